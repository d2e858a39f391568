"""`i2v serve` as a subprocess: a refused body is never read into memory, chunked or not.

Peak memory is the server's VmHWM from /proc/<pid>/status, before and after each request; the
request's body is pushed from a thread while the answer is read, as a real client would.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.support.serve import Served, serving

pytestmark = pytest.mark.integration
MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(i2v_exe: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Beyond loopback, so /metrics is closed by default.
    with serving(i2v_exe, tmp_path_factory.mktemp("serve"), host="0.0.0.0") as running:
        yield running


def _exchange(
    port: int, head: bytes, body: Iterable[bytes] = (), timeout: float = 60
) -> tuple[int, int]:
    """Send `head`, push `body` from a thread, and read the answer: (status, bytes sent)."""
    sent = [0]
    connection = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def push() -> None:
        try:
            for chunk in body:
                connection.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass  # the server answered and closed: the rest of the body is refused

    connection.sendall(head)
    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    answer = b""
    try:
        while b"\r\n" not in answer:
            more = connection.recv(65536)
            if not more:
                break
            answer += more
    finally:
        pusher.join(timeout)
        connection.close()
    return int(answer.split(b" ", 2)[1]), sent[0]


def _chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"\0" * size
    for _ in range(total // size):
        yield b"%x\r\n%s\r\n" % (size, block)
    yield b"0\r\n\r\n"


def test_a_50_mb_body_with_no_key_is_refused_unread(served: Served) -> None:
    total = 50 * MB
    payload = b'{"workflow": "' + b"x" * (total - 17) + b'"}'
    head = (
        f"POST /v1/fleet/instances HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    before = served.peak_kb()
    chunks = (payload[i : i + MB] for i in range(0, len(payload), MB))
    status, sent = _exchange(served.port, head, chunks)
    grown_mb = (served.peak_kb() - before) / 1024
    print(f"no key, 50 MB JSON: {sent / MB:.1f} MB went in, peak RSS +{grown_mb:.1f} MB")
    assert status == 401
    assert grown_mb < 8, f"peak RSS grew {grown_mb:.1f} MB"
    assert sent < total, "the server read the whole body before refusing it"


def test_a_chunked_upload_past_the_cap_is_cut_off_as_it_streams(served: Served) -> None:
    total = 110 * MB  # against the default 30 MB upload cap
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {served.key}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n'
    body = iter([b"%x\r\n%s\r\n" % (len(part), part), *_chunked(total)])
    before = served.peak_kb()
    status, sent = _exchange(served.port, head, body)
    grown_mb = (served.peak_kb() - before) / 1024
    print(f"chunked 110 MB upload: {sent / MB:.1f} MB went in, peak RSS +{grown_mb:.1f} MB")
    assert status == 413
    assert sent < 64 * MB, f"{sent / MB:.0f} MB went in before the 413"
    assert grown_mb < 40, f"peak RSS grew {grown_mb:.1f} MB"


def test_metrics_are_closed_on_a_server_listening_beyond_loopback(served: Served) -> None:
    status, _ = _exchange(served.port, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 401
    ready, _ = _exchange(served.port, b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert ready == 200


def test_a_key_still_gets_in(served: Served) -> None:
    head = f"GET /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {served.key}\r\n\r\n"
    status, _ = _exchange(served.port, head.encode())
    assert status == 200
