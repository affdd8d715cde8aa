"""Label Studio: webhook receiver and export import, through one mapping."""
