"""The testing kit: tasks under test on in-memory components, with or without a worker.

Run it with `python examples/testing.py`; it is a unittest module, and the same cases work
from pytest (where the `qtasks_case` fixture opens one for you), pytest-asyncio and anyio.
"""

from __future__ import annotations

import unittest

from qtasks import AsyncTask, Depends, QueueTasks
from qtasks.testing import AsyncTestCase, SyncTestCase

app = QueueTasks("shop")  # in production this would be QueueTasks(broker="redis://...")


def payment_gateway() -> str:
    raise RuntimeError("tests must never reach the real gateway")


@app.task
def charge(order_id: int, amount: float, gateway: str = Depends(payment_gateway)) -> str:
    return f"charged {amount} for order {order_id} via {gateway}"


@app.task(echo=True)
async def checkout(self: AsyncTask[..., int], order_id: int) -> int:
    await self.ctx.app.add_task("charge", order_id, 9.5)  # queued, not run, in eager mode
    return order_id


class CheckoutTests(unittest.TestCase):
    def test_eagerly(self) -> None:
        with SyncTestCase(app) as case:  # components swapped for in-memory ones
            app.dependency_overrides[payment_gateway] = lambda: "fake-gateway"
            done = case.add_task("checkout", 42)  # runs now, returns the final record
            assert done.returning == 42
            queued = case.assert_queued("charge", 42, 9.5)
            charged = case.run(queued)  # run what it queued, when the test wants to
            assert charged.returning == "charged 9.5 for order 42 via fake-gateway"
        assert app.dependency_overrides == {}  # restored on exit

    def test_with_a_worker(self) -> None:
        with SyncTestCase(app) as case, case.worker(concurrency=2):
            app.dependency_overrides[payment_gateway] = lambda: "fake-gateway"
            order = app.add_task("checkout", 7)  # the code under test uses the app as usual
            case.wait_until_idle()
            case.assert_success(order, 7)
            case.assert_success(case.assert_queued("charge", 7, 9.5))


class AsyncCheckoutTests(unittest.IsolatedAsyncioTestCase):
    async def test_eagerly(self) -> None:
        async with AsyncTestCase(app) as case:
            app.dependency_overrides[payment_gateway] = lambda: "stub"
            done = await case.add_task("checkout", 1)
            assert done.status == "success"
            finished = await case.run_queued()  # everything queued, nested work included
            assert [t.returning for t in finished] == ["charged 9.5 for order 1 via stub"]


if __name__ == "__main__":
    unittest.main()
