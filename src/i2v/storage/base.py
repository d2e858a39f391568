"""The BlobStore contract: key rules, typed results and a streaming reader."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from i2v.errors import InvalidBlobKey, InvalidParameter, RangeNotSatisfiable, StorageError

# (first, last) byte offsets, both inclusive as in HTTP and S3; last None: to the end.
ByteRange = tuple[int, int | None]

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 200  # leaves room under NAME_MAX (255) for the local store's temporary names
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the SigV4 limit
READ_CHUNK_BYTES = 1024 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_MIME_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
# type/subtype, then any parameters in printable ASCII: no CR, LF or other controls.
_CONTENT_TYPE = re.compile(rf"{_MIME_NAME}/{_MIME_NAME}([ \t]*;[\x20-\x7e]*)?")


# -- values --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """One stored blob. `sha256` is None only for blobs written by something other than i2v."""

    key: str
    size: int
    content_type: str
    sha256: str | None
    etag: str | None = None  # the store's own version tag (S3's ETag, unquoted); None locally


class BlobStream:
    """An open blob, or a byte range of one: iterate for chunks, then close (or use `with`).

    `open()` returns it only after the blob was found and the range checked, so those errors
    raise before an HTTP response has started; `info`, `start` and `end` give what a
    Content-Range header needs. It owns a file or a connection, so close it even when the
    client goes away mid-body. Iterating is single-pass.
    """

    __slots__ = ("_chunks", "_close", "_closed", "end", "info", "start")

    def __init__(
        self,
        info: BlobInfo,
        start: int,
        end: int,
        chunks: Iterator[bytes],
        close: Callable[[], None],
    ) -> None:
        self.info = info
        self.start = start
        self.end = end  # inclusive; start - 1 for an empty blob
        self._chunks = chunks
        self._close = close
        self._closed = False

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def read(self) -> bytes:
        """Everything left, at once: for small blobs only."""
        return b"".join(self._chunks)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # End the generator first, so nothing reads from the file or socket once closed.
            close_chunks = getattr(self._chunks, "close", None)
            if close_chunks is not None:
                close_chunks()
            self._close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- the contract --------------------------------------------------------------------------


class BlobStore(Protocol):
    """Blobs by key, following `validate_key`. Failures raise StorageError subclasses; a bad
    content type or URL expiry raises InvalidParameter.

    A key must not also be a prefix of other keys ("a" and "a/b"): S3 allows it, a disk can't.
    """

    def put(self, key: str, source: Path | bytes, content_type: str) -> BlobInfo:
        """Store `source` under `key`, replacing any blob there; readers see old or new, whole."""
        ...

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        """Stream the blob, or bytes `first..last` of it (`last` past the end is clamped)."""
        ...

    def stat(self, key: str) -> BlobInfo: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str, expires_s: int) -> str | None:
        """A time-limited GET URL, or None where the caller must stream through `open`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every blob under `prefix` (which ends with "/"); return how many."""
        ...


# -- checks shared by the stores -------------------------------------------------------------


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative path of short ASCII segments; else InvalidBlobKey.

    Segments start with a letter, digit or underscore, so "..", hidden files and the local
    store's temporary and metadata names can never be keys.
    """
    problem = _key_problem(key)
    if problem:
        raise InvalidBlobKey(f"invalid storage key {key!r}: {problem}", key=key)
    return key


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if it is one or more key segments followed by "/", else raise InvalidBlobKey.

    The trailing slash is required so "jobs/1/" can never match "jobs/10/...".
    """
    if not prefix.endswith("/"):
        raise InvalidBlobKey(f"invalid storage prefix {prefix!r}: must end with '/'", key=prefix)
    problem = _key_problem(prefix[:-1])
    if problem:
        raise InvalidBlobKey(f"invalid storage prefix {prefix!r}: {problem}", key=prefix)
    return prefix


def _key_problem(key: str) -> str | None:
    if not key:
        return "empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"longer than {MAX_KEY_LENGTH} characters"
    if key.startswith("/"):
        return "absolute"
    if "\\" in key:
        return "contains a backslash"
    for segment in key.split("/"):
        if not segment:
            return "empty segment"
        if segment in (".", ".."):
            return "relative segment"
        if len(segment) > MAX_SEGMENT_LENGTH:
            return f"segment longer than {MAX_SEGMENT_LENGTH} characters"
        if not _SEGMENT.fullmatch(segment):
            return "segments are [A-Za-z0-9._-] and start with a letter, digit or '_'"
    return None


def validate_content_type(content_type: str) -> str:
    # It travels in headers (to S3, later in HTTP responses), so it must be header-safe.
    if len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidParameter(
            "content_type", content_type, f"invalid content type {content_type!r}"
        )
    return content_type


def validate_expiry(expires_s: int) -> int:
    if not 1 <= expires_s <= MAX_PRESIGN_SECONDS:
        raise InvalidParameter(
            "expires_s", expires_s, f"URL expiry must be 1-{MAX_PRESIGN_SECONDS} s, not {expires_s}"
        )
    return expires_s


def check_range_shape(key: str, byte_range: ByteRange) -> None:
    first, last = byte_range
    if first < 0 or (last is not None and last < first):
        raise RangeNotSatisfiable(key, byte_range, None, f"invalid byte range {byte_range}")


def resolve_range(key: str, byte_range: ByteRange | None, size: int) -> tuple[int, int]:
    """(first, last) inclusive within a blob of `size` bytes, clamped as HTTP and S3 do."""
    if byte_range is None:
        return 0, size - 1
    check_range_shape(key, byte_range)
    first, last = byte_range
    if first >= size:
        raise RangeNotSatisfiable(
            key, byte_range, size, f"range starts at {first} but {key!r} has {size} bytes"
        )
    return first, size - 1 if last is None else min(last, size - 1)


def digest_source(source: Path | bytes) -> tuple[int, str]:
    """(size, sha256 hex) of `source`, reading a file in chunks."""
    if isinstance(source, bytes):
        return len(source), hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open("rb") as fh:
            while chunk := fh.read(READ_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return size, digest.hexdigest()


@contextmanager
def open_source(source: Path | bytes) -> Iterator[BinaryIO]:
    """`source` as a binary file; a file that can't be opened raises StorageError."""
    if isinstance(source, bytes):
        yield BytesIO(source)
        return
    try:
        fh = source.open("rb")
    except OSError as exc:
        raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from exc
    with fh:
        yield fh
