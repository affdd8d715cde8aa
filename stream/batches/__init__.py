"""RLHF batching rules, batch records, export."""
