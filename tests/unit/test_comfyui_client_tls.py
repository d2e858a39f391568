"""Building a ComfyClient is cheap: no CA bundle for http://, one per process for https://.

Loading the CA bundle cost 18-42 ms per client, paid per server per job before this.
"""

from __future__ import annotations

import ssl

import pytest

from i2v.backends.comfyui.client import ComfyClient, verifying_tls


@pytest.fixture
def bundles_loaded(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Counts CA bundles loaded into any TLS context (a spy on the standard library)."""
    loaded: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def spy(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loaded.append(args or kwargs)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    return loaded


def test_a_plain_http_client_loads_no_ca_bundle(bundles_loaded: list[object]) -> None:
    for port in range(8188, 8198):
        ComfyClient(f"http://127.0.0.1:{port}").close()
    assert bundles_loaded == []


def test_https_clients_share_one_verifying_context(bundles_loaded: list[object]) -> None:
    verifying_tls.cache_clear()
    clients = [ComfyClient(f"https://gpu-{i}.example:8188") for i in range(5)]
    for client in clients:
        client.close()
    assert len(bundles_loaded) == 1
    context = verifying_tls()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
