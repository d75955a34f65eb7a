"""Teaching cases: a closed consultation turned, in one step, into a de-identified case that a
trainer reviews, the clinicians who made it are asked about, and a session presents."""
