"""The `alphawatch` command, split by command group."""
