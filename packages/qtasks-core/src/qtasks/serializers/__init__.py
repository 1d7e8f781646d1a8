"""Serializers shipped with core: JSON (the default) and msgpack (optional extra)."""

from qtasks.serializers.json import JsonSerializer
from qtasks.serializers.msgpack import MsgpackSerializer

__all__ = ["JsonSerializer", "MsgpackSerializer"]
