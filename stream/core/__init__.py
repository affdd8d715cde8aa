"""Validation and dead letters, unit state, event-time windows, the tick protocol."""
