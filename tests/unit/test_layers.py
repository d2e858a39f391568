"""The layers import downwards only: nothing below the interfaces imports the API or the CLI,
not even lazily inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "i2v"
INTERFACES = ("i2v.api", "i2v.cli", "i2v.web")
BELOW = ("engine", "services", "db", "storage", "domain", "media", "backends", "fleet", "net")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", BELOW)
def test_no_module_below_the_interfaces_imports_them(package: str) -> None:
    offenders = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in sorted((SRC / package).rglob("*.py"))
        for name in imported(path)
        if name.startswith(INTERFACES)
    }
    assert offenders == set()
