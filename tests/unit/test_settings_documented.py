"""Every setting is documented in .env.example, and .env.example names no unknown setting."""

from __future__ import annotations

import re
from pathlib import Path

from i2v.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_env_example_documents_every_setting() -> None:
    named = set(re.findall(r"^#?\s*(I2V_[A-Z0-9_]+)=", EXAMPLE.read_text(), re.MULTILINE))
    fields = {f"I2V_{name.upper()}" for name in Settings.model_fields}
    assert fields - named == set(), "settings missing from .env.example"
    assert named - fields == set(), ".env.example names settings that do not exist"
