"""When to sync: the embedded scheduler and the wiring of a stored connection into clients and
an engine (the distributed runtime joins here)."""
