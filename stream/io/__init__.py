"""Kafka client helpers, security, end-offset probe, produce/replay, observe."""
