"""What stays in the clear is exactly what ``docs/storage.md`` section 3 lists (issue 3, item 6:
"Only opaque ids, foreign keys, state and timestamps stay in the clear ... write that list in
docs/storage.md"), on both backends, and every sealed column is re-encrypted by a rotation.

The schema is read from the migrations themselves (``CREATE TABLE`` and any later
``ALTER TABLE ... ADD COLUMN``), so adding a column anywhere without deciding whether it is
sealed, documenting it, and teaching the rotation about it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage.sql.rotation import SEALED_TABLES

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "storage" / "migrations"
DOC = ROOT / "docs" / "storage.md"

_CREATE = re.compile(r"CREATE TABLE (\w+) \((.*?)\n\);", re.S)
_ADD = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.I)
_CONSTRAINT = ("PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK", "CONSTRAINT", "--")


def schema_columns(backend: str) -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    for path in sorted((MIGRATIONS / backend).glob("[0-9][0-9][0-9][0-9]_*.sql")):
        sql = path.read_text(encoding="utf-8")
        for m in _CREATE.finditer(sql):
            cols = tables.setdefault(m.group(1), set())
            for line in m.group(2).splitlines():
                line = line.strip()
                if line and not line.upper().startswith(_CONSTRAINT):
                    cols.add(line.split()[0])
        for m in _ADD.finditer(sql):
            tables[m.group(1)].add(m.group(2))
    return tables


def documented_clear_columns() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- clear-columns:begin -->", 1)[1].split("<!-- clear-columns:end -->")[0]
    out: dict[str, set[str]] = {}
    for line in block.splitlines():
        if ":" in line and not line.startswith("`"):
            table, cols = line.split(":", 1)
            out[table.strip()] = set(cols.split())
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_clear_columns_are_exactly_the_documented_list(backend: str) -> None:
    schema = schema_columns(backend)
    clear = {t: {c for c in cols if not c.endswith("_sealed")} for t, cols in schema.items()}
    clear.pop("schema_migrations", None)  # bookkeeping of the migration runner
    assert clear == documented_clear_columns()


def test_both_backends_have_the_same_columns() -> None:
    assert schema_columns("sqlite") == schema_columns("postgres")


def test_rotation_reencrypts_every_sealed_column() -> None:
    schema = schema_columns("sqlite")
    sealed = {t: {c for c in cols if c.endswith("_sealed")} for t, cols in schema.items()}
    sealed = {t: cols for t, cols in sealed.items() if cols}
    assert sealed == {spec.name: set(spec.columns) for spec in SEALED_TABLES}
    # the rotation pages by the primary key: it must name real columns of the table
    for spec in SEALED_TABLES:
        assert set(spec.pk) <= schema[spec.name]


def test_sealed_columns_hold_binary() -> None:
    for backend, binary in (("sqlite", "BLOB"), ("postgres", "BYTEA")):
        for path in (MIGRATIONS / backend).glob("*.sql"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if words and words[0].endswith("_sealed"):
                    assert words[1].rstrip(",") == binary, (backend, line)
