"""Faust agents, one module per concern: decode, call pure functions, send."""
