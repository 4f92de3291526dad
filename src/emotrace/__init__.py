"""emotrace: time-continuous speech emotion recognition, reproduced end to end."""

__version__ = "0.1.0"
