"""FalClient against the fake fal: the queue, storage, CDN, each fault and what it maps to."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from i2v.backends.fal.client import FalClient
from i2v.backends.fal.values import CancelOutcome, Progress, QueueState
from i2v.config import load_settings
from i2v.errors import (
    BackendError,
    BackendProtocolError,
    ConfigError,
    ContentRefused,
    HostedGone,
    HostedUnavailable,
    I2VError,
    InvalidParameter,
    OutputExists,
    OutputTooLarge,
    RunTimedOut,
    StartTimeout,
)
from tests.fakes.fal import (
    CONTENT_POLICY_DETAIL,
    VALIDATION_DETAIL,
    FakeFal,
    Script,
    fake_fal_fixture,  # noqa: F401
)

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "data" / "fal"
WAN = "fal-ai/wan/v2.2-a14b/image-to-video"
KLING = "fal-ai/kling-video/v2.1/standard/image-to-video"
ARGS = {"prompt": "a slow push in", "image_url": "data:image/png;base64,AAAA"}


def documented(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


class Clock:
    """A fake monotonic clock; sleeping advances it."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step  # added on every reading, for "time passes while we work"

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def client(fake_fal: FakeFal) -> Iterator[FalClient]:
    clock = Clock()
    with FalClient(
        fake_fal.key,
        queue_url=fake_fal.url,
        rest_url=fake_fal.url,
        start_timeout_s=30,
        data_uri_max_bytes=1024,
        poll_s=0.5,
        clock=clock,
        sleep=clock.sleep,
    ) as made:
        yield made


def finish(client: FalClient, endpoint: str = WAN) -> Any:
    request = client.submit(endpoint, ARGS)
    client.wait(request, timeout_s=60)
    return request, client.result(request)


def test_submit_follow_fetch_download(fake_fal: FakeFal, client: FalClient, tmp_path: Path) -> None:
    fake_fal.scripts[WAN] = Script(queue_polls=3, run_polls=2)
    request = client.submit(WAN, ARGS)
    # The answer's URLs are under owner/app: the sub-path is not part of them.
    assert request.status_url == f"{fake_fal.url}/fal-ai/wan/requests/{request.request_id}/status"
    seen: list[Progress] = []
    status = client.wait(request, timeout_s=60, on_progress=seen.append)
    assert status.state is QueueState.COMPLETED
    assert not status.failed
    assert [p.queue_position for p in seen if p.state is QueueState.IN_QUEUE] == [2, 1, 0]
    assert [p.fraction for p in seen if p.state is not QueueState.IN_QUEUE] == [0.5, 1.0, 1.0]
    result = client.result(request)
    assert (result.video.width, result.video.height, result.video.fps) == (832, 480, 16)
    out = tmp_path / "out.mp4"
    size = client.download(result.video.url, out, max_bytes=10_000_000, timeout_s=30)
    assert size == out.stat().st_size == result.video.file_size
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (832, 480, 16)
    submit = next(s for s in fake_fal.seen if s.method == "POST")
    assert submit.headers["authorization"] == f"Key {fake_fal.key}"
    assert submit.headers["x-fal-request-timeout"] == "30"
    lifecycle = json.loads(submit.headers["x-fal-object-lifecycle-preference"])
    assert lifecycle == {"expiration_duration_seconds": 86_400}
    assert json.loads(submit.body) == ARGS
    cdn = [s for s in fake_fal.seen if s.path.startswith("/cdn/")]
    assert cdn
    assert cdn[-1].headers["accept-encoding"] == "identity"  # the cap counts stored bytes
    assert all("authorization" not in s.headers for s in cdn)


def test_kling_output_is_24_fps(client: FalClient) -> None:
    _, result = finish(client, KLING)
    assert (result.video.width, result.video.height, result.video.fps) == (1280, 720, 24)


def test_a_known_request_id_is_followed_after_a_restart(
    fake_fal: FakeFal, client: FalClient
) -> None:
    request = client.submit(WAN, ARGS, webhook_url="https://i2v.example/hooks/fal")
    assert fake_fal.seen[-1].query == {"fal_webhook": "https://i2v.example/hooks/fal"}
    with FalClient(fake_fal.key, queue_url=fake_fal.url, poll_s=0.01) as fresh:
        again = fresh.known(WAN, request.request_id)
        assert again == request
        fresh.wait(again, timeout_s=60)
        assert fresh.result(again).video.url.endswith("/output.mp4")


SUBMIT_FAULTS = [
    ("submit_scheduling", HostedUnavailable, True),
    ("submit_rate_limited", HostedUnavailable, True),
    ("submit_malformed", BackendProtocolError, True),
    ("submit_bad_gateway", HostedUnavailable, True),
]
RESULT_FAULTS = [
    ("content_policy", ContentRefused, False),
    ("validation", InvalidParameter, False),
    ("start_timeout", StartTimeout, False),
    ("startup_timeout", HostedUnavailable, True),
    ("result_500", BackendError, False),
    ("result_retryable", HostedUnavailable, True),
]


@pytest.mark.parametrize(("fault", "kind", "retryable"), SUBMIT_FAULTS)
def test_submit_faults(
    fake_fal: FakeFal,
    client: FalClient,
    fault: str,
    kind: type[I2VError],
    retryable: bool,
) -> None:
    fake_fal.next_scripts.append(Script(fault=fault))
    with pytest.raises(kind) as caught:
        client.submit(WAN, ARGS)
    assert caught.value.retryable is retryable
    if fault == "submit_scheduling":
        assert isinstance(caught.value, HostedUnavailable)
        assert caught.value.error_type == "runner_scheduling_failure"
    if fault == "submit_rate_limited":
        assert isinstance(caught.value, HostedUnavailable)
        assert caught.value.retry_after_s == 7


@pytest.mark.parametrize(("fault", "kind", "retryable"), RESULT_FAULTS)
def test_failures_show_on_the_result(
    fake_fal: FakeFal,
    client: FalClient,
    fault: str,
    kind: type[I2VError],
    retryable: bool,
) -> None:
    """fal queues anything and reports a bad input, a refusal or a timeout on the result."""
    fake_fal.scripts[WAN] = Script(fault=fault)
    request = client.submit(WAN, ARGS)
    assert client.wait(request, timeout_s=60).failed
    with pytest.raises(kind) as caught:
        client.result(request)
    error = caught.value
    assert type(error) is kind
    assert error.retryable is retryable
    if isinstance(error, ContentRefused):
        assert (error.field, error.categories) == ("image_url", ("violence",))
    if isinstance(error, InvalidParameter):
        assert (error.field, error.value) == ("num_frames", 400)
    if isinstance(error, StartTimeout):
        assert error.timeout_s == 30
    if isinstance(error, BackendError):
        assert error.prompt_id == request.request_id


def test_a_malformed_status_is_a_protocol_error(fake_fal: FakeFal, client: FalClient) -> None:
    fake_fal.scripts[WAN] = Script(fault="status_malformed")
    with pytest.raises(BackendProtocolError):
        client.wait(client.submit(WAN, ARGS), timeout_s=60)


def test_a_stuck_request_times_out_and_is_cancelled(fake_fal: FakeFal, client: FalClient) -> None:
    fake_fal.scripts[WAN] = Script(fault="stuck")
    request = client.submit(WAN, ARGS)
    with pytest.raises(RunTimedOut) as caught:
        client.wait(request, timeout_s=5)
    assert caught.value.timeout_s == 5
    assert fake_fal.requests[request.request_id].cancelled


@pytest.mark.parametrize("fault", ["cdn_expired", "cdn_forbidden"])
def test_an_expired_output_link(
    fake_fal: FakeFal,
    client: FalClient,
    tmp_path: Path,
    fault: str,
) -> None:
    fake_fal.scripts[WAN] = Script(fault=fault)
    _, result = finish(client)
    with pytest.raises(HostedGone) as caught:
        client.download(result.video.url, tmp_path / "out.mp4", max_bytes=10**8, timeout_s=30)
    assert not caught.value.retryable
    assert not (tmp_path / "out.mp4").exists()


def test_download_caps_size_and_time(fake_fal: FakeFal, tmp_path: Path) -> None:
    clock = Clock()
    with FalClient(fake_fal.key, queue_url=fake_fal.url, clock=clock, sleep=clock.sleep) as client:
        _, result = finish(client)
        out = tmp_path / "out.mp4"
        with pytest.raises(OutputTooLarge):
            client.download(result.video.url, out, max_bytes=1000, timeout_s=30)
        assert not out.exists()
        clock.step = 100  # every reading of the clock: 100 s later
        with pytest.raises(RunTimedOut) as caught:
            client.download(result.video.url, out, max_bytes=10**8, timeout_s=30)
        assert caught.value.retryable
        assert not out.exists()
        out.write_bytes(b"the user's own file")
        clock.step = 0
        with pytest.raises(OutputExists):
            client.download(result.video.url, out, max_bytes=10**8, timeout_s=30)
        assert out.read_bytes() == b"the user's own file"


def test_cancel_in_each_state(fake_fal: FakeFal, client: FalClient) -> None:
    fake_fal.scripts[WAN] = Script(queue_polls=5, run_polls=5)
    queued = client.submit(WAN, ARGS)
    assert client.status(queued).state is QueueState.IN_QUEUE
    assert client.cancel(queued) is CancelOutcome.CANCELLATION_REQUESTED
    assert client.status(queued).failed  # a cancelled request ends COMPLETED with an error

    running = client.submit(WAN, ARGS)
    while client.status(running).state is not QueueState.IN_PROGRESS:
        pass
    assert client.cancel(running) is CancelOutcome.CANCELLATION_REQUESTED

    fake_fal.scripts[WAN] = Script(queue_polls=0, run_polls=0)
    done, _ = finish(client)
    assert client.cancel(done) is CancelOutcome.ALREADY_COMPLETED
    assert client.cancel(client.known(WAN, "no-such-request")) is CancelOutcome.NOT_FOUND


def test_upload_then_submit_with_its_url(fake_fal: FakeFal, client: FalClient) -> None:
    picture = b"\x89PNG" + bytes(4096)
    url = client.file_url(picture, content_type="image/png", file_name="photo.png")
    assert url.startswith(f"{fake_fal.url}/cdn/files/")
    assert url.endswith("_photo.png")
    (upload,) = fake_fal.uploads
    assert upload.headers["authorization"].startswith("Bearer ")  # the token, not the key
    assert upload.headers["x-fal-file-name"] == "photo.png"
    assert json.loads(upload.headers["x-fal-object-lifecycle-preference"]) == {
        "expiration_duration_seconds": 86_400
    }
    assert httpx.get(url).content == picture
    request = client.submit(WAN, {**ARGS, "image_url": url})
    assert fake_fal.requests[request.request_id].arguments["image_url"] == url

    small = client.file_url(b"tiny", content_type="image/png", file_name="small.png")
    assert small == "data:image/png;base64,dGlueQ=="
    assert len(fake_fal.uploads) == 1


def test_a_bad_key_is_a_config_error_and_the_key_is_never_shown(
    fake_fal: FakeFal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-id:wrong-secret-1234"
    with FalClient(wrong, queue_url=fake_fal.url, rest_url=fake_fal.url) as client:
        with pytest.raises(ConfigError) as caught:
            client.submit(WAN, ARGS)
        with pytest.raises(ConfigError) as caught_upload:
            client.upload(b"x", content_type="image/png", file_name="a.png")
        shown = [str(caught.value), str(caught_upload.value), repr(client)]
    good = FalClient(fake_fal.key, queue_url=fake_fal.url, poll_s=0.01)
    fake_fal.scripts[WAN] = Script(fault="content_policy")
    with good, pytest.raises(ContentRefused) as refused:
        finish(good)
    shown += [str(refused.value), repr(good)]
    for text in [*shown, caplog.text]:
        assert "wrong-secret" not in text
        assert "fake-key-secret" not in text


def test_an_unreachable_queue_is_retryable(tmp_path: Path) -> None:
    with FakeFal() as gone:
        url = gone.url
    with FalClient("k", queue_url=url) as client, pytest.raises(HostedUnavailable) as caught:
        client.submit(WAN, ARGS)
    assert caught.value.retryable


def test_submit_refuses_urls_off_the_queue_host(fake_fal: FakeFal) -> None:
    """The answer's URLs get the key, so they must be on the host we submitted to."""
    elsewhere = fake_fal.url.replace("127.0.0.1", "localhost")
    with FalClient(fake_fal.key, queue_url=elsewhere) as c, pytest.raises(BackendProtocolError):
        c.submit(WAN, ARGS)


# -- the fake's shapes against the documented ones ------------------------------------------


def test_the_fakes_answers_have_the_documented_shapes(fake_fal: FakeFal) -> None:
    auth = {"Authorization": f"Key {fake_fal.key}"}
    fake_fal.scripts[WAN] = Script(queue_polls=1, run_polls=1)
    with httpx.Client(headers=auth) as http:
        submit = http.post(f"{fake_fal.url}/{WAN}", json=ARGS).json()
        assert set(documented("submit")) <= set(submit)
        queued = http.get(submit["status_url"], params={"logs": "1"})
        assert queued.status_code == 202
        assert set(documented("status_in_queue")) <= set(queued.json())
        running = http.get(submit["status_url"], params={"logs": "1"})
        assert running.status_code == 202
        assert set(documented("status_in_progress")) <= set(running.json())
        assert set(documented("status_in_progress")["logs"][0]) == set(running.json()["logs"][0])
        done = http.get(submit["status_url"], params={"logs": "1"})
        assert done.json()["response_url"] == submit["response_url"]
        assert done.status_code == 200
        assert done.json()["status"] == "COMPLETED"
        result = http.get(submit["response_url"]).json()
        assert set(documented("result")["video"]) == set(result["video"])
        assert set(documented("result")) == set(result)
        cancel = documented("cancel")["completed"]
        answer = http.put(submit["cancel_url"])
        assert (answer.status_code, answer.json()["status"]) == (cancel["http"], cancel["status"])
        token = http.post(
            f"{fake_fal.url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}
        ).json()
        assert set(documented("storage_token")) == set(token)
        upload = httpx.post(
            f"{token['base_url']}/files/upload",
            content=b"x",
            headers={"Authorization": f"Bearer {token['token']}", "X-Fal-File-Name": "x.png"},
        ).json()
        assert set(documented("upload")) == set(upload)
    assert documented("error_validation")["detail"] == VALIDATION_DETAIL
    assert documented("error_content_policy")["detail"] == CONTENT_POLICY_DETAIL
    fake_fal.next_scripts.append(Script(fault="submit_scheduling"))
    failed = httpx.post(f"{fake_fal.url}/{WAN}", json=ARGS, headers=auth)
    assert failed.json() == documented("error_request")
    assert failed.headers["x-fal-error-type"] == documented("error_request")["error_type"]
    failed_status = documented("status_completed_failed")
    fake_fal.next_scripts.append(Script(queue_polls=0, run_polls=0, fault="start_timeout"))
    timed_out = httpx.post(f"{fake_fal.url}/{WAN}", json=ARGS, headers=auth).json()
    status = httpx.get(timed_out["status_url"], params={"logs": "1"}, headers=auth).json()
    assert set(failed_status) <= set(status)
    assert (status["error"], status["error_type"]) == (failed_status["error"], "request_timeout")


@pytest.mark.parametrize(
    "endpoint",
    ["wan", "fal-ai/../admin", "fal-ai//wan", "https://evil.example/x", "fal-ai/wan?x=1", ""],
)
def test_a_hostile_endpoint_id_is_refused(
    fake_fal: FakeFal, client: FalClient, endpoint: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        client.submit(endpoint, ARGS)
    assert caught.value.field == "endpoint_id"
    with pytest.raises(InvalidParameter):
        client.known(endpoint, "some-id")
    assert not fake_fal.seen


@pytest.mark.parametrize("key", ["", "id:secret\nX-Injected: 1", "id: secret", "id:sécret"])
def test_a_malformed_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FalClient(key)
    assert "secret" not in str(caught.value).replace("I2V_FAL_KEY", "")


def test_from_settings(fake_fal: FakeFal, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="I2V_FAL_KEY"):
        FalClient.from_settings(load_settings(data_dir=tmp_path, fal_key=None))
    settings = load_settings(
        data_dir=tmp_path,
        fal_key=fake_fal.key,
        fal_queue_url=fake_fal.url,
        fal_rest_url=fake_fal.url,
        fal_request_timeout_s=45,
        fal_data_uri_max_kb=1,
        fal_output_lifetime_s=3600,
    )
    with FalClient.from_settings(settings, poll_s=0.01) as client:
        request = client.submit(WAN, ARGS)
        assert fake_fal.seen[-1].headers["x-fal-request-timeout"] == "45"
        lifecycle = fake_fal.seen[-1].headers["x-fal-object-lifecycle-preference"]
        assert json.loads(lifecycle) == {"expiration_duration_seconds": 3600}
        client.wait(request, timeout_s=60)
        assert client.file_url(bytes(1024), content_type="image/png", file_name="a.png").startswith(
            "data:"
        )
        assert "/cdn/" in client.file_url(bytes(1025), content_type="image/png", file_name="a.png")
