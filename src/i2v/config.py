"""Settings from the environment (``I2V_*``) and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from i2v.errors import ConfigError

X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


class Settings(BaseSettings):
    """Every setting i2v reads; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="I2V_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("~/.local/share/i2v"), description="Where i2v keeps state.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file i2v.db in data_dir."
    )
    max_image_pixels: int = Field(default=50_000_000, ge=1, description="Largest accepted input.")
    min_image_side: int = Field(default=256, ge=1, description="Smallest accepted side, in px.")
    x264_preset: X264Preset = "veryfast"
    x264_crf: int = Field(default=20, ge=0, le=51)
    max_bitrate_kbps: int = Field(default=15_000, ge=500, le=25_000)
    gop_seconds: float = Field(default=2.0, gt=0, le=10)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, `.env` and explicit overrides (highest priority)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"I2V_{'_'.join(str(part) for part in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def resolved_data_dir(settings: Settings) -> Path:
    return settings.data_dir.expanduser()


def resolved_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded SQLite file under the data directory."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{resolved_data_dir(settings) / 'i2v.db'}"
