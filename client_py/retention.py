"""How long a closed case is kept: the retention date the closing client sends.

Only a participant's client can read the patient's date of birth (it is inside the
end-to-end encrypted clinical history), so the client computes the retention date when it
closes a case and sends it as a coded date (``docs/architecture.md``, "What the server
sees"; ``docs/operations.md``, "Retention"). The rule is the Records Management Code of
Practice's, as issue 16 states it:

* an adult at closure (18 or over): 8 years after closure;
* a child at closure: until the 25th birthday, or the 26th if 17 at closure.

Dates that do not exist in the target year (29 February) move to 1 March, the later day, so
a record is never disposed of early. The date sent is the **last day of that year**
(``retain_until``): the server is told no more than the year, which for a child reveals the
year of birth and nothing finer (``docs/threat-model.md``), and disposal then runs once a
year per cohort, as records managers review. The same table of cases is checked here and
by the web client (``tests/vectors/retention.json``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["ADULT_AGE", "Retention", "RetentionError", "parse_date", "retention_for"]

#: Age at closure from which the adult rule applies.
ADULT_AGE = 18
ADULT_YEARS = 8
CHILD_BIRTHDAY = 25
CHILD_17_BIRTHDAY = 26


class RetentionError(ValueError):
    """The dates cannot give a retention date (a date of birth after the closure)."""


@dataclass(frozen=True)
class Retention:
    """The rule applied and its dates. ``retain_until`` is what the client sends."""

    age_at_closure: int
    rule: str  # "adult" | "child" | "child_17"
    rule_date: dt.date
    retain_until: dt.date

    def wire(self) -> dict[str, str]:
        """The close request's ``retention`` field."""
        return {"retain_until": self.retain_until.isoformat()}


def parse_date(text: str) -> dt.date:
    """An ISO date (``YYYY-MM-DD``, as the clinical history stores the date of birth)."""
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise RetentionError("not a date (YYYY-MM-DD)") from None


def _anniversary(day: dt.date, years: int) -> dt.date:
    """``day`` moved ``years`` years on; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def _age(date_of_birth: dt.date, on: dt.date) -> int:
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


def retention_for(date_of_birth: dt.date, closed_on: dt.date) -> Retention:
    """The retention of a case closed on ``closed_on`` for a patient born on
    ``date_of_birth``; :class:`RetentionError` if the birth is after the closure."""
    if date_of_birth > closed_on:
        raise RetentionError("the date of birth is after the closure")
    age = _age(date_of_birth, closed_on)
    if age >= ADULT_AGE:
        rule, rule_date = "adult", _anniversary(closed_on, ADULT_YEARS)
    elif age == ADULT_AGE - 1:
        rule, rule_date = "child_17", _anniversary(date_of_birth, CHILD_17_BIRTHDAY)
    else:
        rule, rule_date = "child", _anniversary(date_of_birth, CHILD_BIRTHDAY)
    return Retention(age, rule, rule_date, dt.date(rule_date.year, 12, 31))
