"""Uploaded music: checked as audio once, then stored by content like the pictures."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from i2v.config import Settings
from i2v.engine.housekeeping import job_scratch
from i2v.errors import InvalidParameter
from i2v.storage.base import BlobStore

CONTENT_TYPE = "application/octet-stream"  # any audio the decoder reads; never served back


@dataclass(frozen=True, slots=True)
class Music:
    data: bytes
    key: str
    sha256: str

    def keep(self, blobs: BlobStore) -> None:
        if not blobs.exists(self.key):
            blobs.put(self.key, self.data, CONTENT_TYPE)


def checked_music(settings: Settings, data: bytes) -> Music:
    """`data` checked as usable audio (InvalidParameter on `audio` otherwise), and named."""
    from i2v.media.music import probe_music

    cap = settings.max_audio_mb * 1024 * 1024
    if len(data) > cap:
        raise InvalidParameter(
            "audio", f"{len(data)} bytes", f"audio: the file is larger than {cap // 2**20} MB"
        )
    # The decoder reads files: a private scratch copy under the data folder, removed at once.
    with job_scratch(settings) as folder:
        path = folder / "music"
        path.write_bytes(data)
        probe_music(path, cap)
    digest = hashlib.sha256(data).hexdigest()
    return Music(data, f"inputs/{digest}.audio", digest)
