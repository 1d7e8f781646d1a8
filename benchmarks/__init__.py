"""Side-by-side benchmarks of QTasks and peer task queues; run with ``python -m nox -s bench``."""
