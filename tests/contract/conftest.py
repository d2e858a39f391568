"""Fixtures for the contract suites: BlobStore on local files and S3; GpuProvider on each fake.

The S3 server is moto's, started in-process on loopback once per session, unless
I2V_TEST_S3_ENDPOINT names another S3-compatible server (MinIO, R2) with the
I2V_TEST_S3_* credentials below. Each test gets a key prefix of its own, removed afterwards.

Each GpuProvider test gets a fresh fake vendor API (tests/fakes/) and a provider pointed at it
by base URL, through the adapters in gpu_providers.py.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from i2v.storage.base import BlobStore
from i2v.storage.local import LocalBlobStore
from i2v.storage.s3 import S3BlobStore

from .gpu_providers import PROVIDERS, ProviderUnderTest, provider_under_test

S3_ENDPOINT_ENV = "I2V_TEST_S3_ENDPOINT"
# Small enough that tests exercise multipart and pagination with little data.
TEST_MULTIPART_MB = 5
TEST_PAGE_SIZE = 50


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str

    def store(self, **overrides: Any) -> S3BlobStore:
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "multipart_threshold_mb": TEST_MULTIPART_MB,
            "list_page_size": TEST_PAGE_SIZE,
            "max_attempts": 2,
        }
        options.update(overrides)
        bucket = options.pop("bucket", self.bucket)
        return S3BlobStore(bucket, **options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    env = os.environ.get
    endpoint = env(S3_ENDPOINT_ENV)
    server = None
    if not endpoint:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a log line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    found = S3Server(
        endpoint_url=endpoint,
        region=env("I2V_TEST_S3_REGION", "us-east-1"),
        access_key_id=env("I2V_TEST_S3_ACCESS_KEY_ID", "testing"),
        secret_access_key=env("I2V_TEST_S3_SECRET_ACCESS_KEY", "testing"),
        bucket=env("I2V_TEST_S3_BUCKET", "i2v-contract"),
    )
    found.store().ensure_bucket()  # left in place: a real server's bucket may be precious
    yield found
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def s3_root_store(s3_server: S3Server) -> S3BlobStore:
    """The whole test bucket, for cleaning up."""
    return s3_server.store()


@pytest.fixture(scope="session")
def s3_shared_store(s3_server: S3Server) -> S3BlobStore:
    # One client for the session: building one loads botocore's models (about 0.3 s).
    return s3_server.store(prefix=f"contract-{uuid.uuid4().hex[:12]}/")


@pytest.fixture
def s3_store(s3_shared_store: S3BlobStore, s3_root_store: S3BlobStore) -> Iterator[S3BlobStore]:
    """An S3 store under a prefix of its own, emptied after each test.

    Shared between tests: a test that changes its client (events, stubs) undoes it.
    """
    yield s3_shared_store
    s3_root_store.delete_prefix(s3_shared_store.prefix)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    """Each contract test runs once per implementation."""
    found: BlobStore = request.getfixturevalue(f"{request.param}_store")
    return found


@pytest.fixture
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """`big_file(n)` writes n random bytes to a file, a megabyte at a time."""

    def make(size: int) -> Path:
        path = tmp_path_factory.mktemp("big") / f"{size}.bin"
        with path.open("wb") as fh:
            left = size
            while left:
                step = min(left, 1 << 20)
                fh.write(os.urandom(step))
                left -= step
        return path

    return make


@pytest.fixture(params=PROVIDERS)
async def vendor(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ProviderUnderTest]:
    """Each GpuProvider contract test runs once per provider, on a fake of its own."""
    with provider_under_test(request.param, tmp_path) as found:
        try:
            yield found
        finally:
            await found.provider.aclose()
