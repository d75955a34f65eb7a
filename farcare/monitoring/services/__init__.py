"""Writes of remote monitoring: keyword-only, one transaction each, authorised by the access
policy before the transaction and audited (issue 17)."""
