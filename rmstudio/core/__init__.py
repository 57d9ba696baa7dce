"""Pure-Python core of RM Studio. Nothing below this package may import Qt."""
