"""Testing tools shipped with QTasks: the conformance suites every backend must pass.

Importing this package needs pytest (``pip install qtasks-core[test]``); nothing in the
runtime imports it.
"""
