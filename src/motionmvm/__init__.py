"""motionmvm: a reproducible comparison of motion-aware masked video modeling methods."""

__version__ = "0.1.0"
