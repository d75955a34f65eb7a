"""Pages of calls (thin: services write, selectors read)."""
