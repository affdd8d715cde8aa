"""Flag policy, flagger, open-flag store, webhook notifier."""
