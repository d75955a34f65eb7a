"""The diagnostics pages (issue 13): ordering tests, specimens on their way, the laboratory's
worklist and result entry, reports as the orderer reads them, and critical alerts. Thin views:
every write goes through `diagnostics.services`, every read of patient data is audited."""
