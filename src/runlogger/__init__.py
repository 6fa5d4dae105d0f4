"""runlogger."""
