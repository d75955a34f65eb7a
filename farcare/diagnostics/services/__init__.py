"""The writes of diagnostics: ordering, specimens, results, critical alerts."""
