"""Partition aggregates, merge, explanations, offline reference, pilot (pure)."""
