"""Abstract test classes that every Broker, Storage and GlobalConfig must pass.

A backend subclasses one and supplies a single fixture that builds its component::

    class TestRedisBroker(BrokerConformance):
        @pytest.fixture
        def broker_factory(self, redis_url):
            return lambda: RedisBroker(redis_url, visibility_timeout=2)

The suite binds every instance to a fresh namespace per test, starts it, and stops it at the
end. A factory call stands for another process talking to the same server, so the suite can
test sharing and redelivery. Behaviour a backend documents as unsupported is switched off
with a class attribute (``supports_priority = False`` ...), and the skip names the reason.
``BrokerFactory`` (and its storage and global config twins) types that fixture; a subclass
overriding the ``broker`` fixture receives the suite's ``Instances``.
"""

from qtasks.testing.conformance._support import Instances
from qtasks.testing.conformance.broker import BrokerConformance, BrokerFactory
from qtasks.testing.conformance.global_config import GlobalConfigConformance, GlobalConfigFactory
from qtasks.testing.conformance.storage import StorageConformance, StorageFactory

__all__ = [
    "BrokerConformance",
    "BrokerFactory",
    "GlobalConfigConformance",
    "GlobalConfigFactory",
    "Instances",
    "StorageConformance",
    "StorageFactory",
]
