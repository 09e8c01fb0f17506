"""The dependency rules of DESIGN section 5, checked on the import statements themselves.

- ``crypto`` imports nothing of ours;
- ``storage`` may import ``crypto`` and never ``server`` or ``client_py``;
- the domain code in ``server/domain`` imports neither aiohttp nor socketio nor storage drivers;
- ``client_py`` never imports ``server`` or ``storage`` (it talks to the server over the wire).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


RULES = [
    ("crypto", {"storage", "server", "client_py", "aiohttp", "socketio", "aiosqlite", "asyncpg"}),
    ("storage", {"server", "client_py", "aiohttp", "socketio"}),
    ("server/domain", {"aiohttp", "socketio", "engineio", "aiosqlite", "asyncpg", "client_py"}),
    ("client_py", {"server", "storage"}),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_imports(folder: str, forbidden: set[str]) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
        for path in files
        if _imports(path) & forbidden
    }
    assert offenders == {}
