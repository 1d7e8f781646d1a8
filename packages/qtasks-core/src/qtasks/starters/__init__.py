"""Starters: who brings an app's parts up, in which order, and what else runs beside them."""

from qtasks.starters.default import DefaultStarter, Service

__all__ = ["DefaultStarter", "Service"]
