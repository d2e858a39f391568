"""Build the configured BlobStore from a storage URL: `file:///path` or `s3://bucket/prefix`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from i2v.errors import ConfigError
from i2v.storage.base import BlobStore
from i2v.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from i2v.storage.s3 import AddressingStyle


def build_blob_store(
    storage_url: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
    s3_access_key_id: str | None = None,
    s3_secret_access_key: str | None = None,
    s3_addressing_style: AddressingStyle = "path",
    s3_multipart_threshold_mb: int = 16,
) -> BlobStore:
    """The store `storage_url` names; the s3_* arguments apply only to `s3://` URLs.

    Plain arguments rather than Settings, so callers and tests pass exactly what they mean.
    """
    parts = urlsplit(storage_url)
    if parts.username is not None or parts.password is not None:
        # Never echo it: the URL holds a secret, and errors end up in logs.
        raise ConfigError("the storage URL must not hold credentials; use the I2V_S3_* settings")
    if parts.query or parts.fragment:
        raise ConfigError(f"the storage URL {storage_url!r} must have no query or fragment")
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        if parts.netloc not in ("", "localhost") or not path.is_absolute():
            raise ConfigError(f"the storage URL {storage_url!r} must be file:///absolute/path")
        return LocalBlobStore(path)
    if parts.scheme == "s3":
        from i2v.storage.s3 import S3BlobStore  # boto3 takes ~0.3 s to import; only for S3

        return S3BlobStore(
            parts.netloc,
            prefix=unquote(parts.path),
            endpoint_url=s3_endpoint_url or None,
            region=s3_region or None,
            access_key_id=s3_access_key_id or None,
            secret_access_key=s3_secret_access_key or None,
            addressing_style=s3_addressing_style,
            multipart_threshold_mb=s3_multipart_threshold_mb,
        )
    raise ConfigError(
        f"the storage URL {storage_url!r} must be file:///absolute/path or s3://bucket/prefix"
    )
