"""The malicious-server harness: the real server app with a test-only middleware that tampers
with its answers, standing in for a compromised host (docs: ``tests/harness/README.md``).

Nothing under ``server/`` imports this package; a test (``tests/harness/test_harness.py``)
proves it, and that the production app has no ``/__harness`` route.
"""
