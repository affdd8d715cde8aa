"""The demo run, its process stack and live view."""
