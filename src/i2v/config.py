"""Settings from the environment (``I2V_*``) and an optional ``.env`` file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    executor_id: str | None = Field(
        default=None, description="Unique, stable id of this engine process; default host-role."
    )
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    max_running_per_user: int = Field(default=2, ge=1, le=1000)
    queue_poll_s: float = Field(default=0.1, gt=0, le=10)
    heartbeat_s: float = Field(default=2.0, gt=0, le=60)
    executor_lease_s: float = Field(default=15.0, gt=0, le=3600)
    storage_url: str | None = Field(
        default=None, description="file:///path or s3://bucket/prefix; default: data_dir/blobs."
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (R2).")
    s3_region: str | None = Field(default=None, description="'auto' for R2; the bucket's for AWS.")
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_multipart_threshold_mb: int = Field(default=16, ge=5, le=5120)
    max_upload_mb: int = Field(default=30, ge=1, le=1024)
    max_audio_mb: int = Field(default=20, ge=1, le=1024, description="Largest music file.")
    input_retention_days: float = Field(
        default=30.0,
        ge=0,
        le=36_500,
        description="Uploaded pictures go this long after their last job ended (0: at once).",
    )
    max_json_kb: int = Field(
        default=64, ge=1, le=10_240, description="Largest JSON (or other non-multipart) body."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where users reach this server; invite links start with it.",
    )
    web_session_hours: float = Field(
        default=168.0, gt=0, le=8760, description="A dashboard sign-in lasts this long."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; without it, open on loopback only."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Signs webhook deliveries; jobs may name a webhook only if set."
    )
    webhook_retry_base_s: float = Field(default=10.0, gt=0, le=3600)
    fetch_timeout_s: float = Field(default=30.0, gt=0, le=600)
    fetch_max_redirects: int = Field(default=3, ge=0, le=10)
    fetch_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Private/loopback hosts or CIDRs outbound fetches may reach (comma-separated).",
    )
    max_image_pixels: int = Field(default=50_000_000, ge=1, description="Largest accepted input.")
    min_image_side: int = Field(default=256, ge=1, description="Smallest accepted side, in px.")
    decode_budget_mp: int = Field(
        default=100, ge=1, le=100_000, description="Megapixels decoded at once; more wait."
    )
    x264_preset: X264Preset = "veryfast"
    x264_crf: int = Field(default=20, ge=0, le=51)
    max_bitrate_kbps: int = Field(default=15_000, ge=500, le=25_000)
    gop_seconds: float = Field(default=2.0, gt=0, le=10)
    comfyui_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="ComfyUI servers for backend=comfyui (comma-separated)."
    )
    comfyui_workflow: str = Field(default="wan22_ti2v_5b", description="Workflow library name.")
    comfyui_workflows_dir: Path | None = Field(
        default=None, description="Users' own workflows (`i2v workflows add`); default data_dir."
    )
    comfyui_timeout_s: float = Field(default=1800.0, gt=0, le=86_400, description="Per run.")
    comfyui_request_timeout_s: float = Field(default=30.0, gt=0, le=600)
    comfyui_unreachable_budget_s: float = Field(
        default=60.0, ge=0, le=3600, description="Retrying unreachable servers (a restart)."
    )
    fleet_enabled: bool = Field(default=False, description="Rent GPUs for backend=comfyui.")
    fleet_deployment: str = Field(
        default="default", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Instance label."
    )
    fleet_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["vast", "runpod"], description="Providers, in failover order."
    )
    fleet_idle_seconds: float = Field(default=600.0, ge=0)
    fleet_max_instances: int = Field(default=2, ge=0, le=1000)
    fleet_max_hourly_usd: float = Field(default=3.0, ge=0)
    fleet_daily_budget_usd: float = Field(default=50.0, ge=0)
    fleet_ready_timeout_s: float = Field(default=1200.0, gt=0)
    fleet_launch_retry_s: float = Field(
        default=300.0, ge=0, le=3600, description="Retry failed create calls for this long."
    )
    fleet_poll_s: float = Field(default=5.0, gt=0, le=300, description="Provider polling.")
    fleet_line_poll_s: float = Field(
        default=1.0, gt=0, le=60, description="A waiting job's look at the line (database)."
    )
    fleet_queue_wait_s: float = Field(
        default=340.0, ge=0, le=3600, description="Queue for a busy GPU up to this wait."
    )
    fleet_surplus_idle_s: float = Field(
        default=0.0, ge=0, description="Idle time after which a spare instance goes."
    )
    fleet_min_vram_gb: float = Field(default=24.0, gt=0)
    fleet_gpus: Annotated[list[str], NoDecode] = Field(default_factory=list)
    fleet_max_usd_per_hour: float | None = Field(default=1.0, gt=0)
    fleet_min_reliability: float = Field(default=0.95, ge=0, le=1)
    fleet_min_cuda: float | None = Field(default=12.4, gt=0)
    fleet_disk_gb: int = Field(default=80, ge=10, le=4096)
    fleet_regions: Annotated[list[str], NoDecode] = Field(default_factory=list)
    vast_api_key: SecretStr | None = None
    vast_url: str = "https://console.vast.ai"
    vast_template: str = Field(default="", description="Template hash that runs ComfyUI.")
    runpod_api_key: SecretStr | None = None
    runpod_rest_url: str = "https://rest.runpod.io/v1"
    runpod_graphql_url: str = "https://api.runpod.io/graphql"
    runpod_template: str = Field(default="", description="Template id that runs ComfyUI.")
    fal_manifests_dir: Path | None = Field(
        default=None, description="Users' own fal endpoint manifests; default data_dir."
    )
    fal_key: SecretStr | None = None
    fal_queue_url: str = "https://queue.fal.run"
    fal_rest_url: str = Field(default="https://rest.fal.ai", description="Storage tokens.")
    fal_request_timeout_s: float | None = Field(
        default=600.0, gt=1, le=86_400, description="Start deadline (X-Fal-Request-Timeout)."
    )
    fal_http_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Per HTTP call.")
    fal_data_uri_max_kb: int = Field(
        default=256, ge=0, le=10_240, description="Smaller inputs go inline as data: URIs."
    )
    fal_upload_lifetime_s: int = Field(default=86_400, ge=60, le=31_536_000)
    fal_output_lifetime_s: int | None = Field(default=86_400, ge=60, le=31_536_000)
    fal_max_output_mb: int = Field(default=500, ge=1, le=10_240)
    fal_download_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    fal_poll_s: float = Field(
        default=1.0, gt=0, le=60, description="How often a running request's status is read."
    )
    fal_timeout_s: float = Field(
        default=1800.0, gt=0, le=86_400, description="A request's whole run, queue included."
    )
    fal_webhook_url: str | None = Field(
        default=None, description="Public URL of this server's /hooks/fal; fal calls it back."
    )
    fal_webhook_poll_s: float = Field(
        default=10.0, gt=0, le=600, description="fal's status poll while webhooks are on."
    )
    fal_jwks_url: str = Field(
        default="https://rest.fal.ai/.well-known/jwks.json",
        description="fal's webhook signing keys, cached at most 24 h.",
    )
    user_daily_budget_usd: Decimal | None = Field(
        default=None, ge=0, description="Hosted spend per user per UTC day; unset: no cap."
    )
    breaker_failures: int = Field(
        default=3, ge=1, le=100, description="Retryable failures in a row that trip a backend."
    )
    breaker_open_s: float = Field(
        default=300.0, gt=0, le=86_400, description="How long a tripped backend is skipped."
    )
    fleet_default_gpu_s: float = Field(
        default=240.0, gt=0, le=86_400, description="A run's GPU time quoted before any is seen."
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible API (Ollama, vLLM, OpenAI), e.g. http://127.0.0.1:11434/v1; "
        "unset: the offline rules only.",
    )
    llm_model: str = Field(default="", max_length=200, description="The chat model to ask.")
    llm_api_key: SecretStr | None = Field(default=None, description="Sent as a Bearer token.")
    llm_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per call, connect incl.")
    llm_retries: int = Field(default=1, ge=0, le=1, description="At most one retry, then rules.")
    llm_images: bool = Field(
        default=False, description="Send the picture (as a data: URL) to a model that takes images."
    )
    caption_max_hashtags_instagram: int = Field(default=5, ge=0, le=30)
    caption_max_hashtags_tiktok: int = Field(default=5, ge=0, le=30)
    policy_output_frames: int = Field(
        default=3, ge=0, le=16, description="Output frames the image classifier checks per job."
    )

    @field_validator("comfyui_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        for url in value if isinstance(value, list) else ():
            if not str(url).startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("fleet_providers", "fleet_gpus", "fleet_regions", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("fleet_providers")
    @classmethod
    def _known_providers(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in ("vast", "runpod")]
        if unknown:
            raise ValueError(f"unknown provider {unknown[0]!r}; choose from vast, runpod")
        return value

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and value:  # empty, the default: nothing to check
            from i2v.net.ssrf import AllowList  # lazy: settings stay free of httpx at import

            AllowList.parse(value)  # ValueError -> ConfigError naming the bad entry
        return value


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


def resolved_workflows_dir(settings: Settings) -> Path:
    """Where `i2v workflows add` keeps users' workflows, shared by the CLI, API and workers."""
    if settings.comfyui_workflows_dir is not None:
        return settings.comfyui_workflows_dir.expanduser()
    return resolved_data_dir(settings) / "workflows"


def resolved_fal_manifests_dir(settings: Settings) -> Path:
    """Where users' own fal endpoint manifests (*.json) are read from."""
    if settings.fal_manifests_dir is not None:
        return settings.fal_manifests_dir.expanduser()
    return resolved_data_dir(settings) / "fal-endpoints"


def resolved_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded SQLite file under the data directory."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{resolved_data_dir(settings) / 'i2v.db'}"


def engine_database_url(settings: Settings) -> str:
    """DBOS's system database: a sibling SQLite file, or the same PostgreSQL database.

    SQLite gets its own file so the engine's queue polling never waits on the app's writes.
    """
    url = resolved_database_url(settings)
    if url.startswith("sqlite"):
        base, _, suffix = url.rpartition(".db")
        return f"{base}-engine.db{suffix}" if base else f"{url}-engine"
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def resolved_storage_url(settings: Settings) -> str:
    """The configured storage URL, or a folder under the data directory."""
    if settings.storage_url:
        return settings.storage_url
    return (resolved_data_dir(settings) / "blobs").resolve().as_uri()
