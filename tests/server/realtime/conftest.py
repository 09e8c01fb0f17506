"""Leaked aiohttp sessions fail the test that leaked them (``tests/leaks.py``)."""

from tests.leaks import collect_garbage_after_each_test

__all__ = ["collect_garbage_after_each_test"]
