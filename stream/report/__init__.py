"""Agreement report: data, charts, HTML."""
