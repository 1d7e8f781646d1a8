"""The version of qtasks-timer (read by hatchling at build time)."""

__version__ = "0.1.0"
