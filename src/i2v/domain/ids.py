"""Opaque, prefixed identifiers: the prefix says what an id names, in logs and URLs."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """`prefix` plus 16 random hex characters (64 bits), e.g. ``job_3f9a0c2e7b1d4e55``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def new_key_id() -> str:
    """API key ids have no underscore, since tokens are split on it."""
    return f"key{secrets.token_hex(6)}"
