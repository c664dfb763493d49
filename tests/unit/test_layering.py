"""The layering rules of the source tree, checked on every module's imports (all of them:
module level, inside functions, under `TYPE_CHECKING`).

- `sync/` and `domain/` (the pure core) import no I/O or UI library;
- the sandboxes import nothing of the engine (only `ledgerbridge.sandbox` itself and
  `ledgerbridge.serving`, the shared ASGI runner);
- only `store/` imports SQLAlchemy and Alembic;
- only the connectors (`hubspot/`, `qbo/`), `transport/` and the sandboxes (which send
  their webhooks with it, and import nothing of the connectors) import httpx;
- Rich only in `commands/` and `cli.py`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "ledgerbridge"
CORE_FORBIDDEN = {
    "httpx",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "rich",
    "typer",
    "uvicorn",
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield ".".join(path.relative_to(SRC).with_suffix("").parts), path


def _package(module: str) -> str:
    """The top folder of `ledgerbridge` a module is in (`cli` for `ledgerbridge.cli`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path, module: str) -> set[str]:
    """Every module `path` imports, absolute, wherever the import statement is."""
    found: set[str] = set()
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


IMPORTS = {module: imports_of(path, module) for module, path in _modules()}


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def violations(rule: str) -> list[str]:
    out = []
    for module, names in sorted(IMPORTS.items()):
        package, top = _package(module), _top(names)
        if rule == "core" and package in ("sync", "domain"):
            bad = top & CORE_FORBIDDEN
        elif rule == "sandbox" and package == "sandbox":
            bad = {
                n
                for n in names
                if n.startswith("ledgerbridge")
                and not n.startswith(("ledgerbridge.sandbox", "ledgerbridge.serving"))
                and n != "ledgerbridge"
            }
        elif rule == "sqlalchemy" and package != "store":
            bad = top & {"sqlalchemy", "alembic"}
        elif rule == "httpx" and package not in ("hubspot", "qbo", "transport", "sandbox"):
            bad = top & {"httpx"}
        elif rule == "rich" and package not in ("commands", "cli"):
            bad = top & {"rich"}
        else:
            bad = set()
        if bad:
            out.append(f"{module}: {sorted(bad)}")
    return out


@pytest.mark.parametrize("rule", ["core", "sandbox", "sqlalchemy", "httpx", "rich"])
def test_layering(rule: str) -> None:
    assert violations(rule) == []


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(
        "from . import sibling\ndef f():\n    import httpx\n    from ..store import schema\n",
        encoding="utf-8",
    )
    found = imports_of(path, "ledgerbridge.sync.mod")
    assert {"httpx", "ledgerbridge.sync.sibling", "ledgerbridge.store.schema"} <= found


def test_the_checker_finds_a_planted_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(IMPORTS, "ledgerbridge.sync.planted", {"sqlalchemy.orm"})
    monkeypatch.setitem(IMPORTS, "ledgerbridge.sandbox.planted", {"ledgerbridge.sync.engine"})
    assert violations("core") == ["ledgerbridge.sync.planted: ['sqlalchemy']"]
    assert violations("sandbox") == ["ledgerbridge.sandbox.planted: ['ledgerbridge.sync.engine']"]
    assert "ledgerbridge.sync.planted: ['sqlalchemy']" in violations("sqlalchemy")
