"""Docs that the code holds the truth for stay in step with it."""

import dataclasses
from pathlib import Path

from server.domain.lifecycle import describe
from server.settings import Settings

DOCS = Path(__file__).parents[2] / "docs"


def test_configuration_table_lists_every_setting() -> None:
    text = (DOCS / "architecture.md").read_text()
    missing = [
        f.name for f in dataclasses.fields(Settings) if f"DERMLINE_{f.name.upper()}" not in text
    ]
    assert missing == []


def test_layers_diagram_names_every_domain_module() -> None:
    text = (DOCS / "architecture.md").read_text()
    layers = text[text.index("## Layers") : text.index("## The case lifecycle")]
    domain = Path(__file__).parents[2] / "server" / "domain"
    modules = [p for p in domain.rglob("*.py") if not p.name.startswith("_")]
    assert modules
    assert [str(p.relative_to(domain)) for p in modules if p.name not in layers] == []


def test_lifecycle_diagram_matches_the_table() -> None:
    text = (DOCS / "architecture.md").read_text()
    for line in describe():
        assert line in text.replace("  ", " "), line


def test_every_error_code_is_documented() -> None:
    from server.errors import ErrorCode

    text = (DOCS / "api.md").read_text()
    assert [c.value for c in ErrorCode if f"`{c.value}`" not in text] == []
