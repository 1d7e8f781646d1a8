"""Where results go back: the direct reply-to address of each delivery in flight.

A task message asks for a reply when its producer has no shared storage; the worker's broker
remembers that address from delivery until the final record is sent (or the delivery is
settled otherwise). A retry message carries the address on to whichever worker runs it next.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from pamqp.commands import Basic

from qtasks.interfaces.serializer import Serializer
from qtasks.task import Task
from qtasks_rabbitmq._link import Out
from qtasks_rabbitmq._wire import TRANSIENT, Receipt
from qtasks_rabbitmq.names import MESSAGE_TYPE_RESULT

__all__ = ["ReplyRoutes"]

#: Routes kept for deliveries in flight; the oldest are forgotten past this.
MAX_REPLY_ROUTES = 100_000


class ReplyRoutes:
    """Reply addresses by task uuid, each tied to the delivery it came with."""

    def __init__(self) -> None:
        self._routes: OrderedDict[str, Receipt] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._routes)

    def clear(self) -> None:
        """Forget every route (the connection they were kept for is gone)."""
        self._routes.clear()

    def remember(self, receipt: Receipt) -> None:
        """Keep the reply address of a delivery that asked for one."""
        if receipt.uuid is None or receipt.reply_to is None:
            return
        routes = self._routes
        routes[receipt.uuid] = receipt
        routes.move_to_end(receipt.uuid)
        if len(routes) > MAX_REPLY_ROUTES:
            routes.popitem(last=False)

    def address(self, uuid: str) -> str | None:
        """The reply address for ``uuid``, if a delivery in flight asked for one."""
        receipt = self._routes.get(uuid)
        return None if receipt is None else receipt.reply_to

    def take(self, uuid: str) -> Receipt | None:
        """Remove and return the route of ``uuid`` (its result is being answered)."""
        return self._routes.pop(uuid, None)

    def forget(self, receipt: Receipt) -> None:
        """Drop the route of a settled delivery, unless a newer delivery owns it now."""
        if receipt.uuid is not None and self._routes.get(receipt.uuid) is receipt:
            del self._routes[receipt.uuid]

    def replace(self, old: Receipt, new: Receipt) -> None:
        """Let a redelivered message's receipt stand in for the lost one."""
        if new.uuid is not None and self._routes.get(new.uuid) is old:
            self._routes[new.uuid] = new

    def replies(self, records: Sequence[Task], serializer: Serializer) -> list[Out]:
        """Publishes answering the final ``records`` whose producers wait for them."""
        outs = []
        for record in records:
            if not record.status.is_final:
                continue
            receipt = self.take(record.uuid)
            if receipt is None or receipt.reply_to is None:
                continue
            properties = Basic.Properties(
                delivery_mode=TRANSIENT,
                correlation_id=record.uuid,
                message_type=MESSAGE_TYPE_RESULT,
            )
            body = serializer.dumps(record.to_dict())
            outs.append(Out("", receipt.reply_to, body, properties, record.queue, mandatory=False))
        return outs
