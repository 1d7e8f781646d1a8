"""In-memory components: the embedded default, for one process, tests and `python main.py`."""

from qtasks.memory.broker import MemoryBroker
from qtasks.memory.global_config import MemoryGlobalConfig
from qtasks.memory.storage import MemoryStorage

__all__ = ["MemoryBroker", "MemoryGlobalConfig", "MemoryStorage"]
