"""S3BlobStore: blobs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO) through boto3."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from i2v.errors import (
    BlobNotFound,
    BucketNotFound,
    ConfigError,
    InvalidBlobKey,
    RangeNotSatisfiable,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
)
from i2v.storage.base import (
    MAX_KEY_LENGTH,
    READ_CHUNK_BYTES,
    BlobInfo,
    BlobStream,
    ByteRange,
    check_range_shape,
    digest_source,
    open_source,
    resolve_range,
    validate_content_type,
    validate_expiry,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

AddressingStyle = Literal["path", "virtual", "auto"]
MIN_PART_MB = 5  # S3's smallest part, except the last
MAX_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
S3_MAX_KEY_BYTES = 1024
SHA256_META = "sha256"  # stored as x-amz-meta-sha256
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
_DENIED = frozenset(
    {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)
_BUSY = frozenset(
    {"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable", "InternalError", "503"}
)


class S3BlobStore:
    """Blobs at `prefix + key` in `bucket`; large files go up in parts, reads stream in chunks.

    Credentials left as None come from boto3's usual chain (AWS_* variables, profiles).
    A client is thread-safe, so one store serves every thread.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        multipart_threshold_mb: int = 16,
        addressing_style: AddressingStyle = "path",
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_concurrency: int = 4,
        chunk_size: int = READ_CHUNK_BYTES,
        list_page_size: int = MAX_DELETE_BATCH,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ConfigError(f"invalid S3 bucket name {bucket!r}")
        if multipart_threshold_mb < MIN_PART_MB:
            raise ConfigError(f"S3 multipart threshold must be at least {MIN_PART_MB} MB")
        if not 1 <= list_page_size <= MAX_DELETE_BATCH:
            raise ConfigError(f"S3 list page size must be 1-{MAX_DELETE_BATCH}")
        self.bucket = bucket
        self.region = region
        self.prefix = _normalise_prefix(prefix)
        self.chunk_size = chunk_size
        self.list_page_size = list_page_size
        self._threshold = multipart_threshold_mb * 1024 * 1024
        # Parts as big as the threshold: one knob, and 10,000 parts still reach 160 GB at 16 MB.
        # "classic" keeps s3transfer even if awscrt gets installed (CRT ignores some settings).
        self._transfer = TransferConfig(
            multipart_threshold=self._threshold,
            multipart_chunksize=self._threshold,
            max_concurrency=max_concurrency,
            preferred_transfer_client="classic",
        )
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            max_pool_connections=max(10, max_concurrency * 2),
            # Since botocore 1.36 every upload carries a CRC32 by default, which several
            # S3-compatible stores refused; send checksums only where S3 demands them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session of its own: creating clients on boto3's shared default session isn't
        # thread-safe, and this keeps the store's settings from leaking into other clients.
        try:
            self._client: S3Client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=config,
            )
        except (BotoCoreError, ValueError) as exc:  # half the credentials, a malformed endpoint
            raise ConfigError(f"invalid S3 settings: {exc}") from None
        self._client.meta.events.register("before-call.s3.DeleteObjects", _add_content_md5)

    @property
    def client(self) -> S3Client:
        """The boto3 client, for operations this contract doesn't cover."""
        return self._client

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing; return whether it was created."""
        with self._errors(None):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return False
            except ClientError as exc:
                if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
            try:
                if self.region in (None, "us-east-1", "auto"):  # where S3 wants no constraint
                    self._client.create_bucket(Bucket=self.bucket)
                else:
                    self._client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
                    )
            except ClientError as exc:
                if _code(exc) != "BucketAlreadyOwnedByYou":  # a concurrent ensure_bucket
                    raise
                return False
        return True

    def put(self, key: str, source: Path | bytes, content_type: str) -> BlobInfo:
        full = self._full(key)
        validate_content_type(content_type)
        # Hashed first: the hash travels as metadata, which S3 takes before the first part.
        size, sha256 = digest_source(source)
        meta = {SHA256_META: sha256}
        with self._errors(key), open_source(source) as body:
            if size < self._threshold:
                etag = self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=body, ContentType=content_type, Metadata=meta
                )["ETag"]
            else:
                self._client.upload_fileobj(
                    body,
                    self.bucket,
                    full,
                    ExtraArgs={"ContentType": content_type, "Metadata": meta},
                    Config=self._transfer,
                )
                head = self._client.head_object(Bucket=self.bucket, Key=full)
                etag = head["ETag"]
                if head["ContentLength"] != size:
                    raise StorageError(f"{key!r} changed while it was uploaded", key=key)
        return BlobInfo(key, size, content_type, sha256, _unquote(etag))

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        full = self._full(key)
        with self._errors(key, byte_range):
            if byte_range is None:
                response = self._client.get_object(Bucket=self.bucket, Key=full)
            else:
                check_range_shape(key, byte_range)
                start, stop = byte_range
                wanted = f"bytes={start}-{'' if stop is None else stop}"
                response = self._client.get_object(Bucket=self.bucket, Key=full, Range=wanted)
        body = response["Body"]
        found = _CONTENT_RANGE.fullmatch(response.get("ContentRange", ""))
        if found:
            first, last, size = (int(group) for group in found.groups())
        else:  # a whole-object reply: no range asked, or an empty blob
            size = response["ContentLength"]
            try:
                first, last = resolve_range(key, byte_range, size)
                if last - first + 1 != size:
                    raise StorageError(f"the S3 server ignored the range for {key!r}", key=key)
            except StorageError:
                body.close()
                raise
        info = BlobInfo(
            key,
            size,
            response.get("ContentType") or "application/octet-stream",
            response.get("Metadata", {}).get(SHA256_META),
            _unquote(response.get("ETag")),
        )
        return BlobStream(info, first, last, self._chunks(body, key), body.close)

    def stat(self, key: str) -> BlobInfo:
        full = self._full(key)
        with self._errors(key):
            head = self._client.head_object(Bucket=self.bucket, Key=full)
        return BlobInfo(
            key,
            head["ContentLength"],
            head.get("ContentType") or "application/octet-stream",
            head.get("Metadata", {}).get(SHA256_META),
            _unquote(head.get("ETag")),
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def url(self, key: str, expires_s: int) -> str | None:
        full = self._full(key)
        validate_expiry(expires_s)
        with self._errors(key):  # signs locally: no request is made
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=expires_s
            )

    def delete(self, key: str) -> None:
        full = self._full(key)
        with self._errors(key):  # S3 answers 204 for a missing key too
            self._client.delete_object(Bucket=self.bucket, Key=full)

    def delete_prefix(self, prefix: str) -> int:
        full = self.prefix + validate_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        deleted = 0
        with self._errors(prefix):
            # Each page is one DeleteObjects batch; deleting behind the cursor is safe, since
            # the continuation token names the last key listed, not a position.
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": self.list_page_size}
            )
            for page in pages:
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", [])
                ]
                if not keys:
                    continue
                result = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if errors := result.get("Errors"):
                    first = errors[0]
                    raise StorageError(
                        f"could not delete {len(errors)} blobs under {prefix!r}: "
                        f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}",
                        key=prefix,
                        retryable=True,
                    )
                deleted += len(keys)
        return deleted

    # -- helpers ------------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        full = self.prefix + validate_key(key)
        if len(full.encode()) > S3_MAX_KEY_BYTES:
            raise InvalidBlobKey(
                f"storage key {key!r} is too long with prefix {self.prefix!r}", key=key
            )
        return full

    def _chunks(self, body: StreamingBody, key: str) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(self.chunk_size)
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"reading {key!r} from S3 failed: {exc}", key=key) from exc

    @contextmanager
    def _errors(self, key: str | None, byte_range: ByteRange | None = None) -> Iterator[None]:
        """Turn boto3's exceptions into the storage errors."""
        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, key, byte_range) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StorageUnavailable(f"S3 endpoint unreachable: {exc}", key=key) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageAccessDenied(f"no usable S3 credentials: {exc}", key=key) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 request failed: {exc}", key=key) from exc

    def _client_error(
        self, exc: ClientError, key: str | None, byte_range: ByteRange | None
    ) -> StorageError:
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        where = f"{key!r} in s3://{self.bucket}/{self.prefix}"
        if code == "NoSuchBucket":
            return BucketNotFound(f"S3 bucket {self.bucket!r} does not exist", key=key)
        if code in _NOT_FOUND and key is not None:
            return BlobNotFound(f"no blob {where}", key=key)
        if (code == "InvalidRange" or status == 416) and key is not None and byte_range:
            size = str(exc.response.get("Error", {}).get("ActualObjectSize", ""))
            return RangeNotSatisfiable(
                key,
                byte_range,
                int(size) if size.isdigit() else None,
                f"byte range {byte_range} is outside {where}",
            )
        if code in _DENIED or status == 403:
            return StorageAccessDenied(f"S3 refused access to {where}: {code}", key=key)
        if code in _BUSY or status >= 500:
            return StorageUnavailable(f"S3 is unavailable for {where}: {code}", key=key)
        return StorageError(f"S3 request for {where} failed: {code}: {exc}", key=key)


def _normalise_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    try:
        normalised = validate_prefix(stripped + "/")
    except InvalidBlobKey as exc:
        raise ConfigError(f"invalid S3 key prefix {prefix!r}: {exc}") from None
    if len(normalised) > MAX_KEY_LENGTH:
        raise ConfigError(f"S3 key prefix {prefix!r} is too long")
    return normalised


def _add_content_md5(params: dict[str, Any], **_: Any) -> None:
    # DeleteObjects must carry a checksum. botocore >= 1.36 sends CRC32 only, which AWS and
    # R2 accept; older MinIO and other S3 look-alikes still insist on Content-MD5.
    body = params.get("body")
    if isinstance(body, bytes):
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        params["headers"]["Content-MD5"] = base64.b64encode(digest).decode()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None
