"""alphawatch: real-time Krippendorff's alpha over streamed video-annotation events."""

__version__ = "0.1.0"
