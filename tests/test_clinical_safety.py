"""The hazard log (``docs/clinical-safety/hazard-log.yaml``) is consistent and its evidence
exists: every test it names is a test of this repository, every risk is the DCB0129 matrix's,
and the committed safety case report is what ``tools/safety_report.py`` writes."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tools.safety_report import LOG, REPORT, SEVERITIES, load_log, render, risk_of

ROOT = Path(__file__).resolve().parents[1]
LOGDOC = load_log()

#: The hazards the clinical safety case names, each of which must be in the log.
REQUIRED = {
    "A case is not seen in time",
    "An outcome is shown on the wrong patient",
    "A reply is missed or cannot be read",
    "A photo of the wrong site or the wrong patient",
    "An inadequate photo is accepted",
    "A two-week-wait referral is downgraded in error",
    "A lost key makes records unreadable",
    "A message is silently dropped or altered",
    "A clinician is locked out",
    "A notification leaks clinical content",
}


@cache
def _python_tests(path: Path) -> frozenset[str]:
    """Every test function defined in a Python file (also inside ``if`` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
    )


def evidence_exists(ref: str) -> bool:
    """``tests/...py::test_name`` (a parametrised id's ``[...]`` ignored), or
    ``client_web/...::title`` (a describe/it title of a web test, or a check name of a browser
    script, in quotes in that file)."""
    path_text, sep, name = ref.partition("::")
    path = ROOT / path_text
    if not sep or not name or not path.is_file():
        return False
    if path.suffix == ".py":
        return re.sub(r"\[.*\]$", "", name) in _python_tests(path)
    text = path.read_text(encoding="utf-8")
    return any(f"{q}{name}{q}" in text for q in ('"', "'", "`"))


def _evidence() -> list[str]:
    return sorted({e for h in LOGDOC["hazards"] for m in h["mitigations"] for e in m["evidence"]})


@pytest.mark.parametrize("ref", _evidence())
def test_every_named_test_exists(ref: str) -> None:
    assert evidence_exists(ref), f"the hazard log names {ref}, which does not exist"


def test_the_check_catches_a_missing_test() -> None:
    assert evidence_exists("tests/test_clinical_safety.py::test_every_named_test_exists[x]")
    assert not evidence_exists("tests/test_clinical_safety.py::test_that_was_renamed")
    assert not evidence_exists("tests/no_such_file.py::test_x")
    assert not evidence_exists("tests/test_clinical_safety.py")
    assert evidence_exists("client_web/test/app/retention.test.ts::retention date (shared table)")
    assert not evidence_exists("client_web/test/app/retention.test.ts::a title nobody wrote")


def test_the_issue_hazards_are_all_there_with_controls_and_tests() -> None:
    hazards = LOGDOC["hazards"]
    assert {h["title"] for h in hazards} >= REQUIRED
    ids = [h["id"] for h in hazards]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"H\d\d", i) for i in ids)
    for h in hazards:
        assert h["causes"] and h["effect"] and h["harm"] and h["residual_rationale"], h["id"]
        assert h["mitigations"], h["id"]
        kinds = {m["kind"] for m in h["mitigations"]}
        assert kinds <= {"design", "procedural", "training"} and "design" in kinds, h["id"]
        for m in h["mitigations"]:
            assert m["evidence"], (h["id"], m["control"])


def test_risks_follow_the_dcb0129_matrix() -> None:
    matrix = LOGDOC["matrix"]
    assert set(matrix) == set(LOGDOC["likelihood"])
    assert list(LOGDOC["severity"]) == list(SEVERITIES)
    # Monotone: a worse severity or a likelier event is never a lower risk.
    order = ["very_low", "low", "medium", "high", "very_high"]
    for i, likelihood in enumerate(order):
        row = matrix[likelihood]
        assert row == sorted(row) and all(1 <= r <= 5 for r in row)
        if i:
            assert all(a >= b for a, b in zip(row, matrix[order[i - 1]], strict=True))
    for h in LOGDOC["hazards"]:
        initial, residual = risk_of(LOGDOC, h["initial"]), risk_of(LOGDOC, h["residual"])
        assert residual <= initial, h["id"]
        assert residual <= 3, f"{h['id']}: residual risk {residual} needs further controls"
    assert risk_of(LOGDOC, {"severity": "catastrophic", "likelihood": "very_high"}) == 5
    assert risk_of(LOGDOC, {"severity": "minor", "likelihood": "very_low"}) == 1


def test_the_committed_report_is_the_generated_one() -> None:
    assert REPORT.read_text(encoding="utf-8") == render(load_log(LOG)), (
        "run .venv/bin/python -m tools.safety_report"
    )


def test_dtac_links_point_into_the_repository() -> None:
    text = (ROOT / "docs" / "clinical-safety" / "dtac.md").read_text(encoding="utf-8")
    for section in (
        "Clinical safety",
        "Data protection",
        "Technical security",
        "Interoperability",
        "Usability and accessibility",
    ):
        assert f"## {section}" in text or f"{section}" in text, section
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links
    base = ROOT / "docs" / "clinical-safety"
    broken = [link for link in links if not (base / link).resolve().exists()]
    assert broken == []
