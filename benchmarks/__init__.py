"""Side-by-side performance runs (not tests)."""
