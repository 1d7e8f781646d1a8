"""The component interfaces every backend implements; each one small and typed."""

from qtasks.interfaces.broker import Broker, DeadLetter, Delivery, OutgoingMessage, QueueStats
from qtasks.interfaces.component import Component
from qtasks.interfaces.executor import Outcome, TaskCall, TaskExecutor
from qtasks.interfaces.global_config import GlobalConfig
from qtasks.interfaces.serializer import Serializer
from qtasks.interfaces.starter import Starter
from qtasks.interfaces.storage import DEFAULT_RESULT_TTL, Storage
from qtasks.interfaces.worker import Worker

__all__ = [
    "DEFAULT_RESULT_TTL",
    "Broker",
    "Component",
    "DeadLetter",
    "Delivery",
    "GlobalConfig",
    "Outcome",
    "OutgoingMessage",
    "QueueStats",
    "Serializer",
    "Starter",
    "Storage",
    "TaskCall",
    "TaskExecutor",
    "Worker",
]
