"""docs/protocol.md stays in step with the code: every label and every record type in
``crypto/`` is documented, and the documented record sizes are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from crypto import _wire, case_key, envelope

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def code_labels() -> set[str]:
    labels = set()
    for path in (ROOT / "crypto").glob("*.py"):
        for match in re.finditer(r'LABEL_PREFIX \+ b"([^"]+)"', path.read_text(encoding="utf-8")):
            labels.add("dermline/v1/" + match.group(1).removesuffix("\\x00"))
    return labels


def test_every_label_in_the_code_is_in_the_label_table() -> None:
    labels = code_labels()
    assert len(labels) >= 15
    table = DOC[DOC.index(". Every label") :]
    for label in labels:
        assert f"`{label}`" in table, label


def test_every_record_type_is_documented() -> None:
    types = {v for k, v in vars(_wire.RecordType).items() if k.isupper()}
    for value in types:
        assert f"| 0x{value:02x} |" in DOC


def test_documented_fixed_sizes() -> None:
    assert "header 112 bytes" in DOC and envelope.HEADER_LENGTH == 112
    assert "record per recipient (type 0x06), 248 bytes" in DOC
    assert case_key.CASE_KEY_WRAP_LENGTH == 248
