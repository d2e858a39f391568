"""The fleet API's request and response bodies (admin only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from i2v.services.fleet import (
    InstanceSpend,
    InstanceView,
    OfferView,
    ReconcileView,
    SpendView,
)


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, max_length=64, description="Workflow library name.")
    gpu: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only this GPU, e.g. RTX 4090."
    )
    max_usd_per_hour: float | None = Field(
        default=None, gt=0, description="Price cap instead of I2V_FLEET_MAX_USD_PER_HOUR."
    )


class OfferOut(BaseModel):
    provider: str
    offer_id: str
    gpu_name: str
    num_gpus: int
    vram_gb: float
    usd_per_hour: float
    reliability: float | None
    cuda: float | None
    disk_gb: float | None
    region: str | None

    @classmethod
    def of(cls, offer: OfferView) -> OfferOut:
        return cls.model_validate(offer, from_attributes=True)


class OfferListOut(BaseModel):
    offers: list[OfferOut] = Field(description="Cheapest first.")


class InstanceOut(BaseModel):
    id: str = Field(description="i2v's id for the instance (the provider's is instance_id).")
    provider: str
    instance_id: str | None
    label: str
    state: str = Field(description="launching, pending, ready, terminated or failed.")
    gpu_name: str | None
    usd_per_hour: float
    endpoint: str | None = Field(description="ComfyUI's base URL once the instance is ready.")
    workflow: str | None
    busy: int = Field(description="Runs on it now.")
    created_at: datetime
    launched_at: datetime | None
    ready_at: datetime | None
    last_used_at: datetime | None
    terminated_at: datetime | None
    reason: str | None = Field(description="Why it was closed.")

    @classmethod
    def of(cls, view: InstanceView) -> InstanceOut:
        return cls.model_validate(view, from_attributes=True)


class InstanceListOut(BaseModel):
    instances: list[InstanceOut]


class InstanceSpendOut(BaseModel):
    id: str
    provider: str
    gpu_name: str | None
    state: str
    usd_per_hour: float
    runtime_s: float = Field(description="Paid time: from launch to termination, or to now.")
    usd: float

    @classmethod
    def of(cls, item: InstanceSpend) -> InstanceSpendOut:
        return cls.model_validate(item, from_attributes=True)


class SpendOut(BaseModel):
    instances: list[InstanceSpendOut]
    usd_per_hour: float = Field(description="What the open instances cost per hour now.")
    spent_today_usd: float = Field(description="Since 00:00 UTC.")
    spent_total_usd: float
    jobs_usd: float = Field(description="Billed to jobs for the GPU time they used.")
    as_of: datetime

    @classmethod
    def of(cls, view: SpendView) -> SpendOut:
        return cls.model_validate(view, from_attributes=True)


class DestroyedOut(BaseModel):
    provider: str
    instance_id: str
    reason: str


class ReconcileOut(BaseModel):
    destroyed: list[DestroyedOut]
    adopted: list[str] = Field(description="Rows matched to an instance launched before a crash.")
    closed: list[str] = Field(description="Rows whose instance the provider no longer has.")

    @classmethod
    def of(cls, view: ReconcileView) -> ReconcileOut:
        return cls.model_validate(view, from_attributes=True)
