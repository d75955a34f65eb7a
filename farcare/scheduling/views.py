"""Pages of scheduling (thin: services write, selectors read)."""
