"""LocalBlobStore: blobs as plain files under a root folder, written atomically."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from i2v.errors import (
    BlobNotFound,
    InvalidBlobKey,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
)
from i2v.storage.base import (
    READ_CHUNK_BYTES,
    BlobInfo,
    BlobStream,
    ByteRange,
    open_source,
    resolve_range,
    validate_content_type,
    validate_expiry,
    validate_key,
    validate_prefix,
)

# Content type and hash live in a mirror tree, `.meta/KEY`. Keys never start a segment with
# ".", so neither this tree nor the ".NAME.RANDOM.part" temporary files can clash with a key.
META_DIR = ".meta"
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
_PART = re.compile(r"\..+\.[0-9a-f]{16}\.part")  # what `_write_temp` names its files


class LocalBlobStore:
    """Files under `root`, so a person can open them; reads stream in `chunk_size` pieces.

    Keys are validated (no "..", no absolute paths), so no key can reach outside `root`.
    """

    def __init__(self, root: Path, *, chunk_size: int = READ_CHUNK_BYTES) -> None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, None) from exc
        self.root = root.resolve()
        self.chunk_size = chunk_size

    def put(self, key: str, source: Path | bytes, content_type: str) -> BlobInfo:
        path, meta_path = self._paths(key)
        validate_content_type(content_type)
        temps: list[Path] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            with open_source(source) as src:
                data_tmp, size, sha256, inode = _write_temp(path, src, self.chunk_size)
            temps.append(data_tmp)
            # The inode ties the metadata to this very file: after a crash between the two
            # renames, or a later change by hand, `_info` sees the mismatch and ignores it.
            meta = {"content_type": content_type, "sha256": sha256, "size": size, "inode": inode}
            with BytesIO(json.dumps(meta).encode()) as src:
                meta_tmp = _write_temp(meta_path, src, self.chunk_size)[0]
            temps.append(meta_tmp)
            os.replace(meta_tmp, meta_path)
            os.replace(data_tmp, path)
            temps.clear()
            _fsync_dir(meta_path.parent)
            _fsync_dir(path.parent)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            msg = f"storage key {key!r} conflicts with an existing blob or prefix"
            raise InvalidBlobKey(msg, key=key) from exc
        except OSError as exc:
            raise _os_error(exc, key) from exc
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
        return BlobInfo(key=key, size=size, content_type=content_type, sha256=sha256)

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        path, _ = self._paths(key)
        try:
            fh = path.open("rb")
        except _MISSING as exc:
            raise BlobNotFound(f"no blob {key!r}", key=key) from exc
        except OSError as exc:
            raise _os_error(exc, key) from exc
        try:
            info = self._info(key, os.fstat(fh.fileno()))
            first, last = resolve_range(key, byte_range, info.size)
            fh.seek(first)
        except BaseException:
            fh.close()
            raise
        return BlobStream(info, first, last, self._chunks(fh, key, last - first + 1), fh.close)

    def stat(self, key: str) -> BlobInfo:
        path, _ = self._paths(key)
        try:
            st = path.stat()
        except _MISSING as exc:
            raise BlobNotFound(f"no blob {key!r}", key=key) from exc
        except OSError as exc:
            raise _os_error(exc, key) from exc
        if not stat.S_ISREG(st.st_mode):  # a folder: "a" while "a/b" exists
            raise BlobNotFound(f"no blob {key!r}", key=key)
        return self._info(key, st)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def url(self, key: str, expires_s: int) -> str | None:
        validate_key(key)
        validate_expiry(expires_s)
        return None  # nothing serves these files: the API streams them through `open`

    def delete(self, key: str) -> None:
        for path in self._paths(key):
            try:
                path.unlink(missing_ok=True)
            except _MISSING:
                pass  # a folder ("a" while "a/b" exists) is no blob, as on S3
            except OSError as exc:
                raise _os_error(exc, key) from exc

    def delete_prefix(self, prefix: str) -> int:
        folder = self.root / validate_prefix(prefix)
        try:
            count = _remove_tree(folder)
            _remove_tree(self.root / META_DIR / prefix)
        except OSError as exc:
            raise _os_error(exc, prefix) from exc
        return count

    def sweep_parts(self, older_than: float) -> int:
        """Remove the temporary `.part` files last written before `older_than` (Unix time).

        A live `put` writes its temporary file all the time, so one left untouched for long
        belongs to a writer that was killed; the caller picks how long is long.
        """
        swept = 0
        for parent, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(parent, name)
                if not _PART.fullmatch(name):
                    continue
                with contextlib.suppress(FileNotFoundError):  # its writer finished meanwhile
                    if path.lstat().st_mtime < older_than:
                        path.unlink()
                        swept += 1
        return swept

    # -- helpers ------------------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        validate_key(key)
        return self.root / key, self.root / META_DIR / key

    def _info(self, key: str, st: os.stat_result) -> BlobInfo:
        try:
            meta = json.loads((self.root / META_DIR / key).read_bytes())
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict) and (meta.get("inode"), meta.get("size")) == (
            st.st_ino,
            st.st_size,
        ):
            return BlobInfo(key, st.st_size, str(meta["content_type"]), str(meta["sha256"]))
        # A file placed by hand, or one whose metadata was lost: guess from its name.
        guessed = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return BlobInfo(key, st.st_size, guessed, None)

    def _chunks(self, fh: BinaryIO, key: str, remaining: int) -> Iterator[bytes]:
        try:
            while remaining > 0:
                chunk = fh.read(min(self.chunk_size, remaining))
                if not chunk:
                    return  # only if changed in place by hand: our writes replace whole files
                remaining -= len(chunk)
                yield chunk
        except OSError as exc:
            raise _os_error(exc, key) from exc


def _write_temp(dest: Path, source: BinaryIO, chunk_size: int) -> tuple[Path, int, str, int]:
    """A fsynced hidden copy of `source` beside `dest`: (path, size, sha256, inode)."""
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.part")
    # os.open rather than mkstemp: mode 0o666 lets the umask decide, as for any other file.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(chunk_size):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
            inode = os.fstat(out.fileno()).st_ino
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size, digest.hexdigest(), inode


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a folder for this.
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(folder: Path) -> int:
    """Remove `folder` and everything in it; return how many blobs (non-hidden files) went.

    Bottom-up by hand rather than shutil.rmtree, so entries that a concurrent delete removed
    first are simply skipped (rmtree's `onexc` needs Python 3.12).
    """
    if not folder.is_dir() or folder.is_symlink():
        return 0
    count = 0
    for parent, dirs, names in os.walk(folder, topdown=False):
        for name in names:
            Path(parent, name).unlink(missing_ok=True)
            count += not name.startswith(".")
        for name in dirs:
            child = Path(parent, name)
            with contextlib.suppress(FileNotFoundError):
                if child.is_symlink():  # os.walk lists links to folders here; never follow them
                    child.unlink()
                else:
                    child.rmdir()
    with contextlib.suppress(FileNotFoundError):
        folder.rmdir()
    return count


def _os_error(exc: OSError, key: str | None) -> StorageError:
    where = f" for {key!r}" if key else ""
    if isinstance(exc, PermissionError):
        return StorageAccessDenied(f"local storage refused access{where}: {exc}", key=key)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageUnavailable(f"local storage is full{where}: {exc}", key=key)
    return StorageError(f"local storage failed{where}: {exc}", key=key)
