"""Live updates: one Redis pub/sub reader per process, event log for resume, presence."""
