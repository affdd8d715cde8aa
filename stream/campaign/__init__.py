"""Simulator, scenarios, synthetic tournaments, shipped prompts."""
