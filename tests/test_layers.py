"""The dependency rules of DESIGN section 5, checked on the import statements themselves.

- ``crypto`` imports nothing of ours;
- ``storage`` may import ``crypto`` and never ``server`` or ``client_py``;
- the domain code in ``server/domain`` imports neither aiohttp nor socketio nor storage drivers,
  nor the transports or their wire shapes;
- the transports (``server/api`` HTTP, ``server/realtime`` Socket.IO) call the domain only:
  they never import ``storage`` (the domain re-exports the records they need from
  ``server.domain.records``) and never each other (what both send is in ``server.wire``);
- ``server/wire`` (the shapes both transports send) knows the domain's records, not storage
  and not the transports;
- ``client_py`` never imports ``server`` or ``storage`` (it talks to the server over the wire).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, dotted (``from a.b import c`` gives ``a.b`` and
    ``a.b.c``: ``c`` may be a module), including imports under ``TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _forbidden(imported: set[str], forbidden: set[str]) -> list[str]:
    """The imported modules that are, or are inside, a forbidden one."""
    return sorted(
        name for name in imported if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


NOT_FOR_TRANSPORTS = {"storage", "aiosqlite", "asyncpg", "client_py"}
RULES = [
    ("crypto", {"storage", "server", "client_py", "aiohttp", "socketio", "aiosqlite", "asyncpg"}),
    ("storage", {"server", "client_py", "aiohttp", "socketio"}),
    (
        "server/domain",
        {
            "aiohttp",
            "socketio",
            "engineio",
            "aiosqlite",
            "asyncpg",
            "client_py",
            "server.api",
            "server.realtime",
            "server.wire",
            "server.services",
            "server.app",
        },
    ),
    ("server/api", NOT_FOR_TRANSPORTS | {"server.realtime", "socketio", "engineio"}),
    ("server/realtime", NOT_FOR_TRANSPORTS | {"server.api"}),
    ("server/wire", {"storage", "server.api", "server.realtime", "aiohttp", "socketio"}),
    ("client_py", {"server", "storage"}),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_imports(folder: str, forbidden: set[str]) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    offenders = {
        str(path.relative_to(ROOT)): _forbidden(_imports(path), forbidden) for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_rules_catch_a_submodule_and_not_a_namesake() -> None:
    imported = {"server.api.http", "server.apiary", "storage", "storagebox"}
    assert _forbidden(imported, {"server.api", "storage"}) == ["server.api.http", "storage"]


def test_services_give_the_transports_no_store() -> None:
    """``Services`` is all a transport holds: it must not hand out the store."""
    from server.services import Services

    assert "store" not in {f.name for f in dataclasses.fields(Services)}
