"""i2v: turn still images into publish-ready short videos."""

__version__ = "0.1.0"
