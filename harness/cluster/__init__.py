"""Start, stop, kill, pause and partition the nodes of a test cluster (no history, no checking)."""
