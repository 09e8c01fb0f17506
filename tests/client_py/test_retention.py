"""The retention date the closing client sends, from the shared table
(``tests/vectors/retention.json``, group RetentionDate; the web client checks the
same table in ``client_web/test/app/retention.test.ts``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from client_py.retention import RetentionError, parse_date, retention_for

VECTORS = Path(__file__).parents[1] / "vectors" / "retention.json"


def _group(kind: str) -> list[dict[str, Any]]:
    doc = json.loads(VECTORS.read_text())
    return next(g["tests"] for g in doc["testGroups"] if g["type"] == kind)


CASES = _group("RetentionDate")


@pytest.mark.parametrize("case", CASES, ids=[c["comment"] for c in CASES])
def test_retention_date_table(case: dict[str, Any]) -> None:
    dob, closed = parse_date(case["date_of_birth"]), parse_date(case["closed_on"])
    if case["result"] == "invalid":
        with pytest.raises(RetentionError):
            retention_for(dob, closed)
        return
    r = retention_for(dob, closed)
    assert (r.age_at_closure, r.rule) == (case["age_at_closure"], case["rule"])
    assert r.rule_date.isoformat() == case["rule_date"]
    assert r.wire() == {"retain_until": case["retain_until"]}


def test_the_table_covers_every_rule() -> None:
    assert {c["rule"] for c in CASES if c["result"] == "valid"} == {"adult", "child", "child_17"}


def test_never_less_than_eight_years_for_any_age() -> None:
    """Whatever the age, a record is kept at least as long as an adult's: the child rules
    never end before 8 years after closure (checked for every age 0..100, both sides of a
    birthday, on a common and a leap-year closure)."""
    for closed in (dt.date(2026, 11, 28), dt.date(2028, 2, 29)):
        for age in range(101):
            for shift in (-1, 0, 1):
                try:
                    dob = closed.replace(year=closed.year - age) + dt.timedelta(days=shift)
                except ValueError:
                    dob = dt.date(closed.year - age, 3, 1)
                if dob > closed:
                    continue
                r = retention_for(dob, closed)
                assert r.rule_date >= closed.replace(year=closed.year + 8), (dob, closed)
                assert r.retain_until == dt.date(r.rule_date.year, 12, 31)


def test_a_malformed_date_is_refused() -> None:
    with pytest.raises(RetentionError):
        parse_date("15/03/1984")
