"""ComfyBackend: run a library workflow on the least-loaded ready ComfyUI server.

A run is named by a prompt id derived from the request's run id, so a retried step first
looks for its earlier run on every server and follows it instead of paying for a second.
A run that fails for a reason another server may not have (unreachable, out of memory, a
missing model) is cancelled where it was and tried elsewhere, as `retry.Retries` allows: a
server that does not answer gets a time budget (it may be restarting), a missing model or
node is tried again only on another server.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from i2v.backends.base import (
    Capabilities,
    EncodedClip,
    GenerationRequest,
    Progress,
    ProgressCallback,
)
from i2v.backends.comfyui.catalog import CatalogCache, NodeCatalog, shared_catalogs
from i2v.backends.comfyui.client import ComfyClient, Readiness
from i2v.backends.comfyui.events import BACKEND, OutputFile, PromptState, RunTracker
from i2v.backends.comfyui.manifest import Workflow, WorkflowManifest, WorkflowParams
from i2v.backends.comfyui.retry import Retries
from i2v.backends.comfyui.targets import StaticTargets, Targets
from i2v.backends.comfyui.validate import check_graph, check_params
from i2v.backends.comfyui.workflows.library import WORKFLOWS, get_workflow
from i2v.config import Settings, resolved_workflows_dir
from i2v.domain.spec import RenderSpec
from i2v.errors import (
    BackendError,
    BackendProtocolError,
    ConfigError,
    InvalidParameter,
    ModelNotInstalled,
    NotFound,
    OutOfMemory,
    ServerUnreachable,
    WorkflowInvalid,
)
from i2v.media.image import NormalisedImage
from i2v.media.jpeg import encode_jpeg
from i2v.models.catalog import catalog_for

CANCEL_WAIT_S = 10.0  # for a cancelled run to stop: a server heeds it only between nodes
PROGRESS_UNITS = 1000
NEGATIVE = (
    "blurry, low quality, low resolution, jpeg artifacts, distorted, deformed, watermark, "
    "text, subtitles, static, frozen frame"
)
_PROMPT_NAMESPACE = uuid.UUID("5b1e7d52-3c2a-4f0e-9a7e-1f3c6d2b8a90")


@dataclass(frozen=True, slots=True)
class _Candidate:
    url: str
    load: int


def model_size(width: int, height: int, manifest: WorkflowManifest) -> tuple[int, int]:
    """The model's frame: the request's aspect with its long side at the model's own size."""
    scale = manifest.max_side / max(width, height)
    step = manifest.side_multiple

    def side(value: int) -> int:
        fitted = math.floor(value * scale / step) * step  # floor: never past max_side
        return max(manifest.min_side, step, fitted)

    return side(width), side(height)


def model_length(duration_s: float, manifest: WorkflowManifest) -> int:
    """Frames at the model's native rate, on its length grid (Wan: 4k + 1)."""
    wanted = duration_s * manifest.native_fps
    step, offset = manifest.length_multiple, manifest.length_offset
    frames = max(offset + step, offset + math.ceil((wanted - offset) / step) * step)
    if frames > manifest.max_length:
        longest = manifest.max_length / manifest.native_fps
        raise InvalidParameter(
            "duration",
            duration_s,
            f"duration {duration_s:g}s is longer than workflow {manifest.name} makes "
            f"({longest:.2f}s: {manifest.max_length} frames at {manifest.native_fps} fps)",
        )
    return frames


def prompt_id_for(run_id: str, workflow: WorkflowManifest) -> str:
    return str(uuid.uuid5(_PROMPT_NAMESPACE, f"{run_id}/{workflow.name}/v{workflow.version}"))


def upload_bytes(image: NormalisedImage) -> bytes:
    """The normalised image as a JPEG (PNG took 43 ms for a 720x512 image, and 10x the bytes)."""
    return encode_jpeg(image.rgb)


class ComfyBackend:
    name = BACKEND

    def __init__(
        self,
        settings: Settings,
        *,
        targets: Targets | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        catalogs: CatalogCache | None = None,
    ) -> None:
        self._settings = settings
        self._catalogs = catalogs or shared_catalogs()
        self._targets = targets or StaticTargets(tuple(settings.comfyui_urls))
        self._clock, self._sleep = clock, sleep
        self._clients: dict[str, ComfyClient] = {}

    def capabilities(self) -> Capabilities:
        longest = max(manifest.max_length for manifest in WORKFLOWS.values())
        return Capabilities(name=self.name, max_frames=longest, needs_gpu=True, runs_locally=False)

    @contextlib.contextmanager
    def _client(self, url: str) -> Iterator[ComfyClient]:
        """One HTTP client per server for the whole run, so its connections are reused."""
        client = self._clients.get(url)
        if client is None:
            client = ComfyClient(
                url,
                timeout_s=self._settings.comfyui_request_timeout_s,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._clients[url] = client
        yield client

    def params(self, spec: RenderSpec, workflow: Workflow, image_name: str) -> WorkflowParams:
        """The workflow's parameters for `spec`, at the model's own size, rate and length."""
        manifest = workflow.manifest
        width, height = model_size(spec.size.width, spec.size.height, manifest)
        params = WorkflowParams(
            image_name=image_name,
            positive=spec.prompt or "a gentle, natural camera move",
            negative=spec.negative_prompt or NEGATIVE,
            seed=spec.seed,
            width=width,
            height=height,
            length=model_length(spec.frame_count / spec.fps, manifest),
            fps=manifest.native_fps,
        )
        check_params(manifest, params)
        return params

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        """Refuse what the workflow cannot take before any GPU is involved, and pin the
        workflow's exact version (it is part of the cache key). A catalogue model names its
        workflow (wan-2.2-14b runs wan22_i2v_14b) unless the job names one."""
        for field, value, what in (
            ("resolution", spec.resolution, "a resolution (the workflow sets its own size)"),
            ("sound", spec.audio or None, "sound"),
            ("end_image", spec.end_frame or None, "an end image"),
            ("focus", spec.focus, "a focus point (the model frames its own video)"),
        ):
            if value is not None:
                raise InvalidParameter(field, value, f"backend comfyui does not take {what}")
        name = spec.workflow
        model = None
        if spec.model is not None:
            model = catalog_for(self._settings).get(spec.model)
            if model.comfyui is None and name is None:
                runs = ", ".join(model.backends)
                raise InvalidParameter(
                    "model",
                    spec.model,
                    f"model {model.name} has no ComfyUI workflow; it runs on: {runs}",
                )
            name = name or model.comfyui
        workflow = self._workflow(name)
        workflow.fill(self.params(spec, workflow, "input.png"))
        return replace(spec, workflow=workflow.manifest.key, model=model.name if model else None)

    def _workflow(self, name: str | None) -> Workflow:
        """The job's workflow (shipped or the user's own), or the configured default."""
        user_dir = resolved_workflows_dir(self._settings)
        if name is not None:
            try:
                return get_workflow(name, user_dir=user_dir)
            except NotFound as exc:
                raise InvalidParameter("workflow", name, exc.message) from None
        default = self._settings.comfyui_workflow
        try:
            return get_workflow(default, user_dir=user_dir)
        except NotFound as exc:
            raise ConfigError(f"I2V_COMFYUI_WORKFLOW={default!r}: {exc.message}") from None

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        try:
            return self._generate(request, on_progress)
        finally:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        workflow = self._workflow(request.workflow)
        image = upload_bytes(request.image)
        image_name = f"i2v_{hashlib.sha256(image).hexdigest()[:20]}.jpg"
        spec = RenderSpec(
            motion=request.motion,
            intensity=request.intensity,
            size=request.size,
            duration_s=request.frame_count / request.fps,
            fps=request.fps,
            fit=request.fit,
            seed=request.seed,
            prompt=request.prompt,
            workflow=request.workflow,
            negative_prompt=request.negative_prompt,
        )
        params = self.params(spec, workflow, image_name)
        prompt_id = prompt_id_for(request.run_id, workflow.manifest)
        tried: list[str] = []
        failures: list[BackendError] = []
        best = [0.0]

        def progress(fraction: float) -> None:
            best[0] = max(best[0], fraction)  # a retry starts over; the bar does not go back
            on_progress(Progress("generate", round(best[0] * PROGRESS_UNITS), PROGRESS_UNITS))

        retries = Retries(self._settings.comfyui_unreachable_budget_s, self._clock)
        while True:
            url = leased = None
            failed_before = len(failures)
            try:
                url = self._earlier_run(prompt_id, tried)
                submit = url is None  # not queued, running or done anywhere we can reach
                if url is None:
                    more_memory = bool(failures) and isinstance(failures[-1], OutOfMemory)
                    url = leased = self._targets.acquire(
                        workflow, request.run_id, tried, more_memory=more_memory
                    )
                url = url or self._pick(workflow, tried, failures)
                tried.append(url)
                clip = self._run_on(url, workflow, params, image, prompt_id, request, progress,
                                    submit)  # fmt: skip
            except BackendError as exc:
                if url is not None:
                    # The lease moves with the next attempt, which bills only its own time.
                    self._targets.release(url, request.run_id)
                if isinstance(exc, ModelNotInstalled) and exc.server:
                    self._catalogs.forget(exc.server)  # it may be installed by the next try
                if url is None and not isinstance(exc, ServerUnreachable | BackendProtocolError):
                    # No server was ready: each that answered lacks something, and only one
                    # that did not answer (restarting, say) may have it.
                    refused = True
                    elsewhere = any(
                        isinstance(f, ServerUnreachable) for f in failures[failed_before:]
                    )
                else:
                    refused = isinstance(exc, ModelNotInstalled)
                    elsewhere = leased is not None or any(
                        u not in tried for u in self._targets.urls()
                    )
                wait = retries.wait(exc, refused=refused, elsewhere=elsewhere)
                if wait is None:
                    raise
                failures.append(exc)
                self._sleep(wait)
                continue
            except BaseException:
                if url is not None:
                    self._targets.release(url, request.run_id)
                raise
            return replace(clip, cost_usd=self._targets.release(url, request.run_id))

    def _earlier_run(self, prompt_id: str, tried: Sequence[str]) -> str | None:
        """The server that already has this prompt (queued, running or finished), if any."""
        for url in self._targets.urls():
            if url in tried:
                continue
            try:
                with self._client(url) as client:
                    if client.state(prompt_id) is not PromptState.UNKNOWN:
                        return url
            except BackendError:
                continue
        return None

    def _catalog(self, client: ComfyClient) -> NodeCatalog:
        return self._catalogs.get(client.base_url, client.object_info, self._clock())

    def _readiness(self, client: ComfyClient, workflow: Workflow) -> Readiness:
        models = [(m.folder, m.name) for m in workflow.manifest.models]
        return Readiness.of(self._catalog(client), workflow.required_nodes(), models)

    def _pick(self, workflow: Workflow, tried: Sequence[str], failures: list[BackendError]) -> str:
        """The ready server with the fewest prompts queued or running, untried ones first.

        A server already tried is taken again only when no other is ready: with one server,
        a retry after its restart must go back to it.
        """
        urls = list(self._targets.urls())
        fresh = [url for url in urls if url not in tried]
        candidates: list[_Candidate] = []
        lacking: list[tuple[str, Readiness]] = []
        for url in fresh or urls:
            try:
                with self._client(url) as client:
                    readiness = self._readiness(client, workflow)
                    if not readiness.ready:
                        lacking.append((url, readiness))
                        self._catalogs.forget(url)  # ask afresh next time: it may be installed
                        continue
                    queue = client.queue()
                    candidates.append(_Candidate(url, len(queue.running) + len(queue.pending)))
            except BackendError as exc:
                failures.append(exc)
        if candidates:
            return min(candidates, key=lambda c: c.load).url
        for url, readiness in lacking:
            if readiness.missing_models and not readiness.missing_nodes:
                raise ModelNotInstalled(readiness.missing_models, backend=BACKEND, server=url)
        if lacking:
            url, readiness = lacking[0]
            raise BackendError(
                f"{url} cannot run workflow {workflow.manifest.name}: it lacks the nodes "
                f"{', '.join(readiness.missing_nodes)}",
                backend=BACKEND,
                server=url,
                retryable=True,
            )
        if failures:
            raise failures[-1]
        raise ServerUnreachable(
            "no ComfyUI server is configured (set I2V_COMFYUI_URLS)",
            backend=BACKEND,
            retryable=False,  # none will appear by waiting
        )

    def _run_on(
        self,
        url: str,
        workflow: Workflow,
        params: WorkflowParams,
        image: bytes,
        prompt_id: str,
        request: GenerationRequest,
        progress: Callable[[float], None],
        submit: bool,
    ) -> EncodedClip:
        """Run (or, with `submit` false, follow the earlier run of) the prompt on `url`."""
        client_id = f"i2v-{prompt_id}"
        # Opened before submitting, so no message of the run is missed.
        with self._client(url) as client, client.socket(client_id) as socket:
            graph = workflow.fill(params)
            tracker = RunTracker.for_graph(prompt_id, url, graph.to_json())
            try:
                if submit:
                    uploaded = client.upload_image(image, params.image_name)
                    if uploaded.name != params.image_name:
                        graph = workflow.fill(replace(params, image_name=uploaded.name))
                    try:
                        check_graph(graph, self._catalog(client), server=url)
                    except WorkflowInvalid:
                        self._catalogs.forget(url)  # models may have been added: ask afresh
                        check_graph(graph, self._catalog(client), server=url)
                    client.submit(graph, client_id=client_id, prompt_id=prompt_id)
                timeout = self._settings.comfyui_timeout_s  # from when the prompt starts running
                client.follow(
                    tracker,
                    client_id,
                    timeout_s=timeout,
                    on_progress=progress,
                    socket=socket,
                    attached=not submit,
                )
            except BaseException:
                # Cancelled, failed or crashing: stop paying for the run before anything else.
                with contextlib.suppress(BackendError):  # unreachable: nothing more to do
                    client.cancel(prompt_id, deadline=self._clock() + CANCEL_WAIT_S)
                raise
            if tracker.error is not None:
                raise tracker.error
            video = _video_output(tracker.outputs, url, prompt_id)
            dest = request.workdir / Path(video.filename).name
            return EncodedClip(client.download(video, dest, prompt_id=prompt_id))


def _video_output(outputs: Sequence[OutputFile], url: str, prompt_id: str) -> OutputFile:
    videos = [o for o in outputs if o.is_video]
    if not videos:
        raise BackendError(
            f"the workflow finished on {url} without a video output",
            backend=BACKEND,
            server=url,
            prompt_id=prompt_id,
        )
    return min(videos, key=lambda o: not o.filename.lower().endswith(".mp4"))
