"""Model names are forgiving: case, spaces, dots, dashes and underscores do not matter."""

from __future__ import annotations

import re


def canonical(name: str) -> str:
    """ "Kling 2.5 Turbo Pro", "kling-2.5-turbo-pro" and "kling_25_turbo_pro" are one name."""
    return re.sub(r"[^0-9a-z]", "", name.lower())
