"""Load the public test vectors copied into ``tests/vectors/`` (sources in its README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def load(relative: str) -> Any:
    with (VECTORS / relative).open(encoding="utf-8") as fh:
        return json.load(fh)


def wycheproof_cases(
    name: str, keep_group: Callable[[dict[str, Any]], bool] = lambda _g: True
) -> list[Any]:
    """One ``pytest.param((group, test), id="tcN-result")`` per test of the kept groups.

    Filtering is done here, by group, so that a filtered case never shows up as a skip; each
    caller documents why its filter is right.
    """
    data = load(f"wycheproof/{name}")
    params = []
    for group in data["testGroups"]:
        if not keep_group(group):
            continue
        for test in group["tests"]:
            params.append(pytest.param(group, test, id=f"tc{test['tcId']}-{test['result']}"))
    return params


def all_tests(name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for group in load(f"wycheproof/{name}")["testGroups"]:
        for test in group["tests"]:
            yield group, test


def h(value: str) -> bytes:
    return bytes.fromhex(value)
