"""Transfer and evacuation: from a conclusion that advises it to a hospital bed, with every hour
counted (issue 16). Estimates and the time windows of time-critical conditions are pure logic."""
