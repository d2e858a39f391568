"""docs/architecture.md names every module in its package's row, so it cannot fall behind."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "i2v"
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _rows() -> dict[str, str]:
    """The packages table: its first cell (`api/`, `config.py`) to the whole row."""
    rows = {}
    for line in DOC.splitlines():
        match = re.match(r"\| `([\w./]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_module_is_in_its_packages_row() -> None:
    rows = _rows()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py" or "migrations" in relative.parts:
            continue
        if len(relative.parts) == 1:
            if relative.name not in rows:
                missing.append(str(relative))
            continue
        row = rows.get(f"{relative.parts[0]}/", "")
        if not re.search(rf"\b{re.escape(path.stem)}\b", row):
            missing.append(str(relative))
    assert missing == []


def test_the_doc_describes_what_exists_today() -> None:
    assert "CLI today" not in DOC
    assert "media/canvas.py" in DOC
