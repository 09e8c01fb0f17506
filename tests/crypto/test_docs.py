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


def code_label_bytes() -> list[bytes]:
    """Every label exactly as the code uses it (with its 0x00 separator when it has one)."""
    out = []
    for path in sorted((ROOT / "crypto").glob("*.py")):
        for match in re.finditer(r'LABEL_PREFIX \+ b"([^"]+)"', path.read_text(encoding="utf-8")):
            out.append(b"dermline/v1/" + match.group(1).replace("\\x00", "\x00").encode())
    return out


def test_labels_are_unique_and_prefix_free() -> None:
    # Domain separation (review item): no two uses share a label, and no label is a prefix of
    # another, so "label || data" for one use can never be parsed as another use's input
    # (labels followed by binary data end in 0x00; stand-alone HKDF infos are whole strings).
    labels = code_label_bytes()
    assert len(labels) >= 17
    assert len(labels) == len(set(labels)), "a label is used twice"
    for a in labels:
        for b in labels:
            assert a == b or not b.startswith(a), (a, b)


def test_worked_envelope_example_is_the_first_vector() -> None:
    # Section 9's byte-by-byte example must be envelope.json tcId 1, field by field (the
    # review found one ellipsised hex string that had lost a digit).
    import json

    vectors = json.loads((ROOT / "tests/vectors/dermline/envelope.json").read_text("utf-8"))
    test = vectors["testGroups"][0]["tests"][0]
    assert test["tcId"] == 1
    record = bytes.fromhex(test["record"])
    example = DOC[DOC.index("**Worked example**") :]
    example = example[: example.index("## 10.")]
    rows = re.findall(r"^ *(\d+) +(\d+) .{23}(\S+)", example, flags=re.MULTILINE)
    assert len(rows) == 13
    for offset, length, shown in rows:
        field = record[int(offset) : int(offset) + int(length)].hex()
        if shown == "00":  # "00 x 32"
            assert field == "00" * int(length)
        elif "..." in shown:
            head, tail = shown.split("...")
            assert len(head) % 2 == 0 and len(tail) % 2 == 0, "show whole bytes"
            assert field.startswith(head) and field.endswith(tail), (offset, shown)
        else:
            assert field == shown, (offset, shown)
    assert sum(int(length) for _, length, _ in rows) == len(record)


def test_documented_suite_2_sizes() -> None:
    section = DOC[DOC.index("## 26. Suite 2") :]
    assert f"| `01 02 0b` | {case_key.HYBRID_CASE_KEY_WRAP_LENGTH} |" in section
    assert "| `01 02 04` | 1187 |" in section
    assert f"**Suite {_wire.SUITE_HYBRID:#04x}**" in DOC
