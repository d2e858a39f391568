"""The BlobStore contract, run against the local store and against S3 (moto, or a real server)."""

from __future__ import annotations

import hashlib
import os
import socket
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from botocore.stub import Stubber

from i2v.errors import (
    BlobNotFound,
    BucketNotFound,
    ConfigError,
    InvalidBlobKey,
    InvalidParameter,
    RangeNotSatisfiable,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
)
from i2v.storage.base import (
    MAX_KEY_LENGTH,
    READ_CHUNK_BYTES,
    BlobStore,
)
from i2v.storage.local import LocalBlobStore
from i2v.storage.registry import build_blob_store
from i2v.storage.s3 import S3BlobStore

from .conftest import TEST_MULTIPART_MB, TEST_PAGE_SIZE, S3Server

MB = 1024 * 1024
DATA = bytes(range(256)) * 4  # 1000+ distinct-enough bytes: offsets are easy to check
KEY = "jobs/j1/video.mp4"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(store: BlobStore, key: str, byte_range: tuple[int, int | None] | None = None) -> bytes:
    with store.open(key, byte_range) as stream:
        return stream.read()


# -- round trips ---------------------------------------------------------------------------


def test_put_bytes_then_read_back(store: BlobStore) -> None:
    info = store.put(KEY, DATA, "video/mp4")

    assert (info.key, info.size, info.sha256) == (KEY, len(DATA), sha(DATA))
    assert read(store, KEY) == DATA
    stat = store.stat(KEY)
    assert (stat.size, stat.content_type, stat.sha256) == (len(DATA), "video/mp4", sha(DATA))


def test_put_file_then_read_back(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "cover.jpg"
    source.write_bytes(DATA * 3)

    info = store.put("jobs/j1/cover.jpg", source, "image/jpeg")

    assert (info.size, info.sha256) == (len(DATA) * 3, sha(DATA * 3))
    with store.open("jobs/j1/cover.jpg") as stream:
        assert stream.info.content_type == "image/jpeg"
        assert stream.info.sha256 == sha(DATA * 3)
        assert stream.read() == DATA * 3


@pytest.mark.parametrize(
    "content_type", ["video/mp4", "application/json", "text/plain; charset=utf-8"]
)
def test_content_type_is_kept_whatever_the_name(store: BlobStore, content_type: str) -> None:
    store.put("jobs/j1/blob.bin", b"x", content_type)

    assert store.stat("jobs/j1/blob.bin").content_type == content_type


def test_put_replaces_the_blob_whole(store: BlobStore) -> None:
    store.put(KEY, DATA, "video/mp4")
    store.put(KEY, b"new", "text/plain")

    assert read(store, KEY) == b"new"
    stat = store.stat(KEY)
    assert (stat.size, stat.content_type, stat.sha256) == (3, "text/plain", sha(b"new"))


def test_empty_blob(store: BlobStore) -> None:
    assert store.put(KEY, b"", "video/mp4").size == 0

    with store.open(KEY) as stream:
        assert (stream.info.size, stream.length, stream.read()) == (0, 0, b"")
    with pytest.raises(RangeNotSatisfiable):
        store.open(KEY, (0, None))


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byte_range", "first", "last"),
    [
        ((0, 9), 0, 9),  # the first bytes
        ((100, 199), 100, 199),  # the middle
        ((1000, None), 1000, len(DATA) - 1),  # from an offset to the end
        ((1020, 5000), 1020, len(DATA) - 1),  # past the end: clamped, as HTTP does
        ((len(DATA) - 1, None), len(DATA) - 1, len(DATA) - 1),  # the last byte
    ],
)
def test_range_reads(
    store: BlobStore, byte_range: tuple[int, int | None], first: int, last: int
) -> None:
    store.put(KEY, DATA, "video/mp4")

    with store.open(KEY, byte_range) as stream:
        assert (stream.start, stream.end, stream.length) == (first, last, last - first + 1)
        assert stream.info.size == len(DATA)
        assert stream.info.content_type == "video/mp4"
        assert stream.read() == DATA[first : last + 1]


@pytest.mark.parametrize("byte_range", [(len(DATA), None), (5000, 6000), (-1, 5), (10, 9)])
def test_unsatisfiable_ranges_raise_before_streaming(
    store: BlobStore, byte_range: tuple[int, int | None]
) -> None:
    store.put(KEY, DATA, "video/mp4")

    with pytest.raises(RangeNotSatisfiable) as caught:
        store.open(KEY, byte_range)
    assert caught.value.key == KEY
    assert caught.value.byte_range == byte_range


def test_20mb_blob_streams_in_chunks(store: BlobStore, big_file: Callable[[int], Path]) -> None:
    source = big_file(20 * MB)
    expected = hashlib.sha256(source.read_bytes()).hexdigest()

    assert store.put(KEY, source, "video/mp4").sha256 == expected
    digest, sizes = hashlib.sha256(), []
    with store.open(KEY) as stream:
        for chunk in stream:
            digest.update(chunk)
            sizes.append(len(chunk))
    assert digest.hexdigest() == expected
    assert sum(sizes) == 20 * MB
    assert max(sizes) <= READ_CHUNK_BYTES
    assert len(sizes) >= 20


def test_closing_a_stream_early_ends_it(store: BlobStore) -> None:
    store.put(KEY, bytes(3 * READ_CHUNK_BYTES), "video/mp4")

    with store.open(KEY) as stream:
        assert len(next(iter(stream))) == READ_CHUNK_BYTES
    stream.close()  # again: closing is idempotent
    assert list(stream) == []


def test_local_put_and_read_hold_one_chunk_at_a_time(
    local_store: LocalBlobStore, big_file: Callable[[int], Path]
) -> None:
    # Only locally: moto keeps objects in this process's memory, which would count here.
    source = big_file(20 * MB)
    tracemalloc.start()
    try:
        local_store.put(KEY, source, "video/mp4")
        with local_store.open(KEY) as stream:
            for _ in stream:
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * READ_CHUNK_BYTES


# -- exists and deletion ---------------------------------------------------------------------


def test_missing_blobs(store: BlobStore) -> None:
    assert not store.exists(KEY)
    with pytest.raises(BlobNotFound):
        store.stat(KEY)
    with pytest.raises(BlobNotFound):
        store.open(KEY)
    with pytest.raises(BlobNotFound):
        store.open(KEY, (0, 10))


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put(KEY, DATA, "video/mp4")
    assert store.exists(KEY)

    store.delete(KEY)
    store.delete(KEY)

    assert not store.exists(KEY)
    with pytest.raises(BlobNotFound):
        store.open(KEY)


def test_a_prefix_is_no_blob(store: BlobStore) -> None:
    store.put("jobs/j1/video.mp4", DATA, "video/mp4")

    assert not store.exists("jobs/j1")
    with pytest.raises(BlobNotFound):
        store.stat("jobs/j1")
    store.delete("jobs/j1")
    assert store.exists("jobs/j1/video.mp4")


def test_delete_prefix_removes_only_that_prefix(store: BlobStore) -> None:
    doomed = [f"jobs/j1/frames/{i:04d}.png" for i in range(2 * TEST_PAGE_SIZE + 20)]
    doomed += ["jobs/j1/video.mp4", "jobs/j1/cover.jpg"]
    kept = ["jobs/j10/video.mp4", "jobs/j1x/video.mp4", "jobs/j1.mp4", "other/j1/video.mp4"]
    for key in doomed + kept:
        store.put(key, b"x", "application/octet-stream")

    assert store.delete_prefix("jobs/j1/") == len(doomed)

    assert not any(store.exists(key) for key in doomed)
    assert all(store.exists(key) for key in kept)
    assert store.delete_prefix("jobs/j1/") == 0
    assert store.delete_prefix("never/written/") == 0


@pytest.mark.parametrize("prefix", ["jobs/j1", "", "/", "jobs//", "../", "jobs/../"])
def test_delete_prefix_refuses_prefixes_that_could_overreach(store: BlobStore, prefix: str) -> None:
    # Without the trailing "/", "jobs/j1" would also take "jobs/j10/...".
    with pytest.raises(InvalidBlobKey):
        store.delete_prefix(prefix)


# -- keys and arguments --------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "jobs/../../escape",
    "jobs/./video.mp4",
    "..",
    "jobs//video.mp4",
    "jobs/",
    "jobs\\video.mp4",
    ".hidden",
    "jobs/.meta",
    "-rf",
    "with space",
    "caf\u00e9.mp4",
    "nul\x00byte",
    "line\nbreak",
    "a" * (MAX_KEY_LENGTH + 1),
    "jobs/" + "a" * 201,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_invalid_keys_are_refused_by_every_operation(store: BlobStore, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put(key, b"x", "text/plain"),
        lambda: store.open(key),
        lambda: store.stat(key),
        lambda: store.exists(key),
        lambda: store.url(key, 60),
        lambda: store.delete(key),
    ]
    for call in calls:
        with pytest.raises(InvalidBlobKey) as caught:
            call()
        assert caught.value.key == key
        assert caught.value.code == "invalid_blob_key"


@pytest.mark.parametrize(
    "key", ["a", "_private/x", "jobs/0193c3a0-7b1e/video_9x16.v2.mp4", "A-b_C.d/e-F"]
)
def test_valid_keys_round_trip(store: BlobStore, key: str) -> None:
    store.put(key, DATA, "video/mp4")

    assert read(store, key) == DATA


@pytest.mark.parametrize(
    "content_type",
    ["", "video", "text/plain\r\nX-Evil: 1", "text/plain\n; a=b", "a/b\x00", "vid\u00e9o/mp4"],
)
def test_invalid_content_types_are_refused(store: BlobStore, content_type: str) -> None:
    with pytest.raises(InvalidParameter):
        store.put(KEY, DATA, content_type)
    assert not store.exists(KEY)


def test_a_missing_source_file_is_a_storage_error(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read"):
        store.put(KEY, tmp_path / "missing.mp4", "video/mp4")
    assert not store.exists(KEY)


@pytest.mark.parametrize("expires_s", [0, -5, 8 * 24 * 3600])
def test_url_expiry_is_checked(store: BlobStore, expires_s: int) -> None:
    with pytest.raises(InvalidParameter):
        store.url(KEY, expires_s)


# -- URLs ------------------------------------------------------------------------------------


def test_local_store_gives_no_url(local_store: LocalBlobStore) -> None:
    local_store.put(KEY, DATA, "video/mp4")

    assert local_store.url(KEY, 600) is None


def test_s3_url_fetches_the_blob(s3_store: S3BlobStore) -> None:
    # moto checks no signature: this proves the URL's address and key, not its auth or expiry.
    s3_store.put(KEY, DATA, "video/mp4")
    url = s3_store.url(KEY, 600)
    assert url is not None

    response = httpx.get(url, timeout=10)

    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "video/mp4"


# -- S3 specifics ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_file", [True, False], ids=["file", "bytes"])
def test_s3_large_blobs_go_up_in_parts(
    s3_store: S3BlobStore, big_file: Callable[[int], Path], as_file: bool
) -> None:
    source = big_file(2 * TEST_MULTIPART_MB * MB + 123)
    data = source.read_bytes()

    info = s3_store.put(KEY, source if as_file else data, "video/mp4")

    assert info.etag is not None
    assert info.etag.endswith("-3")  # S3 ETags of multipart uploads end in -<part count>
    assert (info.size, info.sha256) == (len(data), sha(data))
    assert s3_store.stat(KEY).sha256 == sha(data)
    assert read(s3_store, KEY) == data


def test_s3_small_blobs_go_up_whole(s3_store: S3BlobStore) -> None:
    info = s3_store.put(KEY, DATA, "video/mp4")

    assert info.etag == hashlib.md5(DATA).hexdigest()  # a single PUT's ETag is its MD5
    assert s3_store.stat(KEY).etag == info.etag


def test_s3_delete_prefix_pages_through_batches(s3_store: S3BlobStore) -> None:
    keys = [f"jobs/j1/{i:04d}" for i in range(2 * TEST_PAGE_SIZE + 1)]
    for key in keys:
        s3_store.put(key, b"x", "application/octet-stream")
    batches: list[bool] = []

    def count(params: dict[str, dict[str, str]], **_: object) -> None:
        batches.append("Content-MD5" in params["headers"])

    event = "before-call.s3.DeleteObjects"
    s3_store.client.meta.events.register(event, count)
    try:
        assert s3_store.delete_prefix("jobs/j1/") == len(keys)
    finally:
        s3_store.client.meta.events.unregister(event, count)
    assert batches == [True, True, True]  # three pages of at most 50, each sent with a Content-MD5


def test_s3_stores_with_different_prefixes_do_not_meet(s3_server: S3Server) -> None:
    one, two = s3_server.store(prefix="iso-a/"), s3_server.store(prefix="iso-b")
    try:
        one.put(KEY, b"one", "text/plain")
        two.put(KEY, b"two", "text/plain")

        assert one.delete_prefix("jobs/") == 1
        assert read(two, KEY) == b"two"
    finally:
        two.delete_prefix("jobs/")


def test_s3_missing_bucket_then_ensure_bucket(s3_server: S3Server) -> None:
    store = s3_server.store(bucket=f"i2v-missing-{os.getpid()}")
    with pytest.raises(BucketNotFound):
        store.put(KEY, DATA, "video/mp4")

    assert store.ensure_bucket() is True
    try:
        assert store.ensure_bucket() is False
        store.put(KEY, DATA, "video/mp4")
        assert read(store, KEY) == DATA
    finally:
        store.delete_prefix("jobs/")
        store.client.delete_bucket(Bucket=store.bucket)


def test_s3_unreachable_endpoint_is_retryable(s3_server: S3Server) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = s3_server.store(
        endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1, connect_timeout_s=1
    )

    with pytest.raises(StorageUnavailable) as caught:
        store.stat(KEY)
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("AccessDenied", 403, StorageAccessDenied),
        ("403", 403, StorageAccessDenied),
        ("InvalidAccessKeyId", 403, StorageAccessDenied),
        ("SlowDown", 503, StorageUnavailable),
        ("InternalError", 500, StorageUnavailable),
        ("NoSuchKey", 404, BlobNotFound),
        ("NoSuchBucket", 404, BucketNotFound),
        ("InvalidRange", 416, RangeNotSatisfiable),
        ("SomethingElse", 400, StorageError),
    ],
)
def test_s3_errors_are_mapped(
    s3_store: S3BlobStore, code: str, status: int, error: type[StorageError]
) -> None:
    # moto checks no credentials, so refusals are stubbed at the client instead.
    with Stubber(s3_store.client) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(error) as caught:
            s3_store.open(KEY, (0, 10))
    assert type(caught.value) is error
    assert caught.value.retryable is (error is StorageUnavailable)


# -- local specifics -------------------------------------------------------------------------


def test_local_writes_leave_no_temporary_files(local_store: LocalBlobStore) -> None:
    local_store.put(KEY, DATA, "video/mp4")
    local_store.put(KEY, b"again", "video/mp4")

    names = sorted(p.name for p in local_store.root.rglob("*") if p.is_file())
    assert names == ["video.mp4", "video.mp4"]  # the blob and its metadata, nothing else
    assert (local_store.root / KEY).read_bytes() == b"again"


def test_local_file_placed_by_hand_is_served_with_a_guessed_type(
    local_store: LocalBlobStore,
) -> None:
    local_store.put(KEY, DATA, "video/mp4")
    (local_store.root / KEY).write_bytes(b"edited")  # same inode, new size: metadata is stale
    (local_store.root / "jobs/j1/notes.txt").write_bytes(b"by hand")

    stat = local_store.stat("jobs/j1/notes.txt")
    assert (stat.content_type, stat.sha256, stat.size) == ("text/plain", None, 7)
    stale = local_store.stat(KEY)
    assert (stale.sha256, stale.size) == (None, 6)


def test_local_key_cannot_be_both_blob_and_prefix(local_store: LocalBlobStore) -> None:
    local_store.put("jobs/j1", DATA, "video/mp4")
    with pytest.raises(InvalidBlobKey, match="conflicts"):
        local_store.put("jobs/j1/video.mp4", DATA, "video/mp4")
    local_store.put("jobs/j2/video.mp4", DATA, "video/mp4")
    with pytest.raises(InvalidBlobKey, match="conflicts"):
        local_store.put("jobs/j2", DATA, "video/mp4")
    assert read(local_store, "jobs/j1") == DATA


# -- building a store from settings ------------------------------------------------------------


def test_registry_builds_a_local_store(tmp_path: Path) -> None:
    store = build_blob_store(f"file://{tmp_path}/blobs")

    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "blobs").resolve()


def test_registry_reads_paths_from_file_uris(tmp_path: Path) -> None:
    root = tmp_path / "with space%"

    store = build_blob_store(root.as_uri())  # as a default built from I2V_DATA_DIR would be

    assert isinstance(store, LocalBlobStore)
    assert store.root == root.resolve()


def test_registry_builds_an_s3_store(s3_server: S3Server) -> None:
    store = build_blob_store(
        f"s3://{s3_server.bucket}/reg/prefix",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_region=s3_server.region,
        s3_access_key_id=s3_server.access_key_id,
        s3_secret_access_key=s3_server.secret_access_key,
    )

    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (s3_server.bucket, "reg/prefix/")
    store.put(KEY, DATA, "video/mp4")
    assert read(store, KEY) == DATA
    assert store.delete_prefix("jobs/") == 1


@pytest.mark.parametrize(
    "options",
    [
        {"access_key_id": "only-the-id"},
        {"secret_access_key": "only-the-secret"},
        {"endpoint_url": "not a url"},
        {"prefix": "../up"},
        {"multipart_threshold_mb": 4},
        {"list_page_size": 1001},
    ],
)
def test_s3_store_refuses_bad_settings(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        S3BlobStore("i2v-bucket", **options)  # type: ignore[arg-type]
    assert "only-the-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "relative/path",
        "http://example.com/x",
        "file://relative/path",
        "file:///x?y=1",
        "s3://Not_A_Bucket/x",
        "s3://bucket/../x",
        "s3://key:secret@bucket/x",
    ],
)
def test_registry_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_blob_store(url)
    assert "secret" not in str(caught.value)
