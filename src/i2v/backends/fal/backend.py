"""FalBackend: run a catalogue model on fal.ai's queue, billed once per render.

The request is checkpointed (`checkpoint.RequestLog`) under the render's run id: the intent
before the submit, the request id the moment fal answers. A step retried after a crash finds
the id and follows the same request; only a crash between fal accepting the submit and the
id's commit (one HTTP answer and one row update) can cost a second submit, and the log's
`attempts` tells an operator it happened. A cancelled, failed or crashing run cancels its
request on fal before it gives up.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from i2v.backends.base import (
    Capabilities,
    EncodedClip,
    GenerationRequest,
    Progress,
    ProgressCallback,
)
from i2v.backends.fal.checkpoint import RequestLog
from i2v.backends.fal.client import FalClient
from i2v.backends.fal.errors import BACKEND
from i2v.backends.fal.manifest import EndpointManifest
from i2v.backends.fal.mapping import to_fal_input
from i2v.backends.fal.pricing import price
from i2v.backends.fal.values import FalRequest, QueueState
from i2v.backends.fal.values import Progress as FalProgress
from i2v.config import Settings
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import BackendError, InvalidParameter
from i2v.media.image import NormalisedImage
from i2v.media.jpeg import encode_jpeg
from i2v.models.catalog import Model, catalog_for
from i2v.models.request import ModelRequest

if TYPE_CHECKING:
    from i2v.db.engine import Database

PROGRESS_UNITS = 1000
# Placeholder for validating a request before its image exists: mapping checks everything else.
_NO_IMAGE = "data:image/jpeg;base64,"


def aspect_name(size: Size) -> str:
    """ "9:16" for 1080x1920: the ratio in lowest terms, as fal's aspect enums spell it."""
    divisor = math.gcd(size.width, size.height)
    return f"{size.width // divisor}:{size.height // divisor}"


def whole_seconds(duration_s: float) -> int:
    """Hosted models take whole seconds: 5.0 is 5, 5.5 is refused."""
    if abs(duration_s - round(duration_s)) > 1e-6:
        raise InvalidParameter(
            "duration",
            duration_s,
            f"duration {duration_s:g}s: hosted models take whole seconds",
        )
    return round(duration_s)


def model_request(
    manifest: EndpointManifest,
    image_url: str,
    *,
    prompt: str,
    duration_s: float,
    size: Size,
    seed: int | None,
    negative_prompt: str | None,
    resolution: str | None,
    audio: bool,
    end_image_url: str | None = None,
) -> ModelRequest:
    """The unified request for an endpoint. The job's aspect goes to fal only where the
    endpoint offers it; elsewhere the model follows the image and publishing re-frames."""
    aspect = aspect_name(size)
    offered = manifest.aspect is not None and aspect in manifest.aspect.allowed
    return ModelRequest(
        image_url=image_url,
        prompt=prompt,
        negative_prompt=negative_prompt or None,
        duration_s=whole_seconds(duration_s) if manifest.duration.form != "none" else None,
        aspect=aspect if offered else None,
        resolution=resolution,
        # Every job has a seed (0 unless one was asked for): an asked-for seed goes on to the
        # mapping, which refuses it where the endpoint takes none, rather than being dropped.
        seed=seed if manifest.seed or seed else None,
        audio=audio,
        end_image_url=end_image_url,
    )


def spec_request(manifest: EndpointManifest, spec: RenderSpec, image_url: str) -> ModelRequest:
    return model_request(
        manifest,
        image_url,
        prompt=spec.prompt,
        duration_s=spec.duration_s,
        size=spec.size,
        seed=spec.seed,
        negative_prompt=spec.negative_prompt,
        resolution=spec.resolution,
        audio=spec.audio,
        end_image_url=_NO_IMAGE if spec.end_frame else None,
    )


def fal_model(settings: Settings, model_name: str | None) -> Model:
    """The catalogue model, which has a fal endpoint; InvalidParameter otherwise."""
    if not model_name:
        raise InvalidParameter(
            "model", None, "backend fal needs a model, e.g. kling-2.5-turbo-pro (i2v models list)"
        )
    model = catalog_for(settings).get(model_name)
    if model.fal is None:
        runs = ", ".join(model.backends)
        raise InvalidParameter(
            "model", model_name, f"model {model.name} has no fal endpoint; it runs on: {runs}"
        )
    return model


def fal_manifest(settings: Settings, model_name: str | None) -> EndpointManifest:
    """The model's fal endpoint; InvalidParameter when it has none."""
    manifest = fal_model(settings, model_name).fal
    assert manifest is not None
    return manifest


class FalBackend:
    name = BACKEND

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        log: RequestLog | None = None,
        client: Callable[[], FalClient] | None = None,
        delivered: Callable[[str], bool] | None = None,
    ) -> None:
        """`db` is the caller's app database, where the request log (and, with webhooks on,
        fal's deliveries) are read; without one, each call opens it from the settings."""
        self._settings = settings
        if log is None:
            from i2v.backends.fal.request_log import DbRequestLog  # the database, when used

            log = DbRequestLog(settings, db)
        self._log = log
        self._client = client or (lambda: FalClient.from_settings(settings))
        # Whether fal's webhook for a request id has come (POST /hooks/fal stores it).
        if delivered is None and settings.fal_webhook_url:
            from i2v.backends.fal.webhooks import DbDeliveries  # cryptography, only when used

            delivered = DbDeliveries(settings, db)
        self._delivered = delivered

    def capabilities(self) -> Capabilities:
        return Capabilities(name=BACKEND, max_frames=0, needs_gpu=False, runs_locally=False)

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        """Refuse what the model's endpoint cannot honour, before anything is paid for."""
        model = fal_model(self._settings, spec.model)
        assert model.fal is not None
        if spec.focus is not None:
            raise InvalidParameter(
                "focus", spec.focus, f"{model.name} frames its own video; it takes no focus point"
            )
        to_fal_input(model.fal, spec_request(model.fal, spec, _NO_IMAGE), target_fps=spec.fps)
        return replace(spec, model=model.name)

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        manifest = fal_manifest(self._settings, request.model)
        unified = model_request(
            manifest,
            _NO_IMAGE,
            prompt=request.prompt,
            duration_s=request.duration_s or request.frame_count / request.fps,
            size=request.size,
            seed=request.seed,
            negative_prompt=request.negative_prompt,
            resolution=request.resolution,
            audio=request.audio,
            end_image_url=_NO_IMAGE if request.end_image is not None else None,
        )
        on_progress(Progress("generate", 0, PROGRESS_UNITS, "submitting to fal"))
        with self._client() as client:
            checkpoint = self._log.get(request.run_id)
            fal_request = checkpoint.request if checkpoint is not None else None
            if fal_request is None:
                unified = replace(unified, image_url=_file_url(client, request.image, "in.jpg"))
                if request.end_image is not None:
                    end_url = _file_url(client, request.end_image, "end.jpg")
                    unified = replace(unified, end_image_url=end_url)
                fal_input = to_fal_input(manifest, unified, target_fps=request.fps)
                self._log.intent(request.run_id, manifest.endpoint)
                fal_request = client.submit(
                    fal_input.endpoint,
                    fal_input.arguments,
                    webhook_url=self._settings.fal_webhook_url,
                )
                self._log.submitted(request.run_id, fal_request)
            clip = self._follow(client, fal_request, request, on_progress)
        found = price(manifest, unified)
        return replace(clip, cost_usd=found.usd if found is not None else Decimal(0))

    def _follow(
        self,
        client: FalClient,
        fal_request: FalRequest,
        request: GenerationRequest,
        on_progress: ProgressCallback,
    ) -> EncodedClip:
        def progress(event: FalProgress) -> None:
            on_progress(_progress(event))

        delivered = self._delivered
        webhook = None if delivered is None else (lambda: delivered(fal_request.request_id))
        done = failed = False
        try:
            status = client.wait(
                fal_request,
                timeout_s=self._settings.fal_timeout_s,
                on_progress=progress,
                done=webhook,  # polling stays the fallback: a lost webhook only costs time
                status_every_s=None if webhook is None else self._settings.fal_webhook_poll_s,
            )
            done, failed = True, status.failed
            result = client.result(fal_request)
            dest = request.workdir / f"fal-{fal_request.request_id}.mp4"
            dest.unlink(missing_ok=True)  # a download a crash cut short
            client.download(result.video.url, dest)
        except BaseException as exc:
            if not done:  # cancelled, failing or stopping: stop paying for the run first
                _cancel(client, fal_request)
            # Cancelled, failed (a validation error too), or its output gone: following it
            # again can only fail the same way, so a retry must submit anew. A finished
            # request whose download broke on the way (a timeout, a CDN hiccup) is kept: its
            # output is paid for, and a retry fetches it again.
            transient = isinstance(exc, BackendError) and exc.retryable
            if not done or failed or not transient:
                self._log.forget(request.run_id)
            if isinstance(exc, BackendError) and exc.prompt_id is None:
                exc.prompt_id = fal_request.request_id  # the job's diagnostics name it
            raise
        on_progress(Progress("generate", PROGRESS_UNITS, PROGRESS_UNITS))
        return EncodedClip(dest)


def _file_url(client: FalClient, image: NormalisedImage, name: str) -> str:
    return client.file_url(encode_jpeg(image.rgb), content_type="image/jpeg", file_name=name)


def _cancel(client: FalClient, fal_request: FalRequest) -> None:
    with contextlib.suppress(BackendError):
        client.cancel(fal_request)


def _progress(event: FalProgress) -> Progress:
    if event.state is QueueState.IN_QUEUE:
        ahead = event.queue_position
        note = "waiting in fal's queue" if ahead is None else f"{ahead} ahead in fal's queue"
        return Progress("generate", 0, PROGRESS_UNITS, note)
    done = round((event.fraction or 0.0) * (PROGRESS_UNITS - 1))
    return Progress("generate", done, PROGRESS_UNITS, event.message or "running on fal")
