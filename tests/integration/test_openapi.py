"""The OpenAPI document tells the truth: schemathesis, every check, against a live `i2v serve`.

The local backend on SQLite, with an admin's key so the admin routes are reachable (the fleet
is off: they answer 409). The example count is bounded so the run stays under a minute.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import i2v_environment
from tests.support.serve import Served, serving

pytestmark = pytest.mark.integration
MAX_EXAMPLES = 30

# Only where a schema cannot say what makes a value valid, schema-valid data may be refused:
# an image's bytes must decode (a generated "binary" never does), a list cursor must be
# a next_cursor this user was given, and a quote's model must be one i2v knows, asked for
# values it offers (each model's durations and resolutions are its own). Every other check,
# and this one elsewhere, is as shipped.
CONFIG = """
[[operations]]
include-name = "POST /v1/jobs"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "409", "415", "422"]

[[operations]]
include-name = "GET /v1/jobs"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "422"]

[[operations]]
include-name = "POST /v1/quotes"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "422"]
"""


@pytest.fixture(scope="module")
def served(i2v_exe: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(i2v_exe, tmp_path_factory.mktemp("openapi"), admin=True) as running:
        yield running


def test_the_document_declares_problems_bodies_and_media_types(served: Served) -> None:
    doc = httpx.get(f"{served.url}/openapi.json").json()
    submit = doc["paths"]["/v1/jobs"]["post"]
    assert set(submit["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    for status in ("401", "409", "413", "415", "422"):
        assert set(submit["responses"][status]["content"]) == {"application/problem+json"}
    video = doc["paths"]["/v1/jobs/{job_id}/video"]["get"]["responses"]
    assert set(video["206"]["content"]) == {"video/mp4"}
    assert "416" in video
    assert "404" in video
    assert set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    # This server has no ComfyUI, no fal key and no webhook secret: the document offers none.
    form = submit["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert form["backend"]["enum"] == ["auto", "local", None]
    assert "webhook_url" not in form
    quote = doc["paths"]["/v1/quotes"]["post"]
    assert set(quote["responses"]) == {"200", "400", "401", "413", "422"}
    assert set(quote["responses"]["422"]["content"]) == {"application/problem+json"}
    assert "image" not in doc["components"]["schemas"]["QuoteIn"]["properties"]  # not needed
    assert set(doc["paths"]["/v1/backends"]["get"]["responses"]) == {"200", "401"}


def test_schemathesis_with_every_check_finds_nothing(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    st = Path(sys.executable).parent / "st"
    done = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{served.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {served.key}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--no-color",
        ],
        cwd=tmp_path,
        env={**i2v_environment(), "SCHEMATHESIS_HOOKS": ""},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
