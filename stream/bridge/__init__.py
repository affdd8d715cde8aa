"""Bridges from annotation tools into the `annotations` topic."""
