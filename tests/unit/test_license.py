"""The licence the package declares is the one it ships, with notices for what it vendors."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_declared_licence_is_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), name


def test_every_vendored_file_has_a_notice() -> None:
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    workflows = ROOT / "src/i2v/backends/comfyui/workflows"
    vendored = [p for p in workflows.iterdir() if p.suffix in {".json", ".gz"}]
    assert vendored
    for path in vendored:
        pattern = "*.v1.json" if path.name.endswith(".v1.json") else "object_info.*.json*"
        assert f"workflows/{pattern}" in notices, path.name


def test_every_vendored_browser_file_is_noticed_with_its_hash() -> None:
    import hashlib

    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    vendor = ROOT / "src/i2v/web/static/vendor"
    record = (vendor / "VENDORED.md").read_text()
    scripts = sorted(vendor.glob("*.js"))
    assert scripts
    for path in scripts:
        assert f"src/i2v/web/static/vendor/{path.name}" in notices, path.name
        assert f"`{hashlib.sha256(path.read_bytes()).hexdigest()}`" in record, path.name
    for licence in ("LICENSE.htmx", "LICENSE.htmx-ext-sse"):
        assert "Zero" in (vendor / licence).read_text() or "0BSD" in (vendor / licence).read_text()
