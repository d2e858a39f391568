"""The words and the content policy through the API, on SQLite and PostgreSQL: the enhanced
prompt and captions on the job, refusals before anything is stored, mature grants, ratings,
blurred covers and the audit; and the language model's answers through a fake server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from i2v.db.engine import Database
from tests.fakes.llm import FakeLlm, Reply
from tests.support.api import EXAMPLE, QUICK, Api, running_api

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # A fal key makes the hosted backend available, so mature jobs meet it at routing.
    with running_api(db, tmp_path, monkeypatch, env={"I2V_FAL_KEY": "k"}) as running:
        yield running


def post(api: Api, who: dict[str, str], **fields: str) -> Any:
    return api.client.post(
        "/v1/jobs",
        headers=who,
        files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
        data={**QUICK, **fields},
    )


def audit(api: Api, **query: str) -> list[dict[str, Any]]:
    answer = api.client.get("/v1/admin/policy/audit", headers=api.admin, params=query)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def test_refusals_come_before_anything_is_stored_and_are_audited(api: Api) -> None:
    cases = [
        # (fields, category, field): always refused, for every account and backend.
        ({"prompt": "a nude photo of a 15yo"}, "minors", "prompt"),
        ({"prompt": "undress the woman in this photo"}, "real_person", "prompt"),
        ({"prompt": "she is drugged and forced into sex"}, "non_consent", "prompt"),
        # Mature: above the job's rating (PG-13 by default), or without a grant.
        ({"prompt": "topless on the beach"}, "mature", "prompt"),
        ({"prompt": "waves", "rating": "R"}, "mature", "rating"),
    ]
    for fields, category, field in cases:
        answer = post(api, api.alice, **fields)
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert (problem["code"], problem["category"], problem["field"]) == (
            "content_refused",
            category,
            field,
        ), problem
        for word in ("15yo", "undress", "drugged", "forced", "topless", "photo"):
            assert word not in problem["detail"]  # the category, never the matched words
    assert api.client.get("/v1/jobs", headers=api.alice).json()["jobs"] == []
    refused = audit(api, decision="refuse")
    assert [e["category"] for e in reversed(refused)] == [c for _, c, _ in cases]
    assert all(e["job_id"] is None for e in refused)
    assert {"age.stated_minor", "undress.photo"} <= {r for e in refused for r in e["rules"]}
    assert all(e["policy_version"] and e["scores"][0]["nsfw"] < 0.2 for e in refused), refused
    # The audit is for admins only; to anyone else it does not exist.
    assert api.client.get("/v1/admin/policy/audit", headers=api.alice).status_code == 404


def test_a_mature_grant_allows_r_on_local_only_and_its_cover_is_blurred(api: Api) -> None:
    grant = api.client.put("/v1/admin/users/alice/mature", headers=api.admin)
    assert grant.status_code == 200, grant.text
    assert grant.json()["mature_granted_by"] == "root"
    assert grant.json()["mature_granted_at"]
    # Never on a hosted backend, grant or not.
    hosted = post(
        api, api.alice, prompt="topless on the beach", rating="R", model="kling-2.5-turbo-pro",
        backend="fal", duration="5",
    )  # fmt: skip
    assert hosted.status_code == 422, hosted.text
    assert hosted.json()["field"] == "backend"
    job = post(api, api.alice, prompt="topless on the beach", rating="R")
    assert job.status_code == 201, job.text
    assert (job.json()["rating"], job.json()["rating_requested"]) == ("R", "R")
    done = api.wait(api.alice, job.json()["id"])
    assert done["state"] == "succeeded", done
    cover = api.client.get(f"/v1/jobs/{done['id']}/cover", headers=api.alice)
    assert cover.headers["X-I2V-Preview"] == "blurred"
    revealed = api.client.get(f"/v1/jobs/{done['id']}/cover?reveal=true", headers=api.alice)
    assert "X-I2V-Preview" not in revealed.headers
    with (
        Image.open(io.BytesIO(cover.content)) as small,
        Image.open(io.BytesIO(revealed.content)) as full,
    ):
        assert max(small.size) <= 480 < max(full.size)
    assert [e["decision"] for e in audit(api, job_id=done["id"])] == ["allow"]
    # Revoked: the same request is refused again.
    api.client.delete("/v1/admin/users/alice/mature", headers=api.admin)
    again = post(api, api.alice, prompt="topless on the beach", rating="R", cache="false")
    assert again.json()["field"] == "rating"


def test_the_job_keeps_the_prompt_as_typed_and_as_sent_and_its_captions(api: Api) -> None:
    job = post(api, api.alice, prompt="slow pan left across the lake at dawn", caption="both")
    assert job.status_code == 201, job.text
    body = job.json()
    assert body["prompt_original"] == "slow pan left across the lake at dawn"
    assert body["enhanced_by"] == "rules"
    assert body["rating"] == "PG"
    assert set(body["captions"]) == {"instagram", "tiktok"}
    for text in body["captions"].values():
        assert "Made with AI" in text
        assert "pan left" not in text.split("\n")[0]  # camera talk stays out of the hook
    events = api.client.get(f"/v1/jobs/{body['id']}/events", headers=api.alice).text
    assert "event: prompt" in events
    as_typed = post(api, api.alice, prompt="waves", enhance="false")
    assert as_typed.json()["enhanced_by"] == "as_typed"
    for fields, field in (({"caption": "facebook"}, "caption"), ({"rating": "NC-17"}, "rating")):
        refused = post(api, api.alice, **fields)
        assert refused.status_code == 422
        assert refused.json()["field"] == field


WRITTEN = (
    "Waves rolling in, one after another 🌊\nA calm shoreline at golden hour.\n"
    "Save this for a slow morning\nMade with AI\n#waves #seascape #goldenhour #aivideo"
)


def test_a_language_model_writes_the_caption_and_its_failures_fall_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local renderer reads only the camera move, so its prompt is never rewritten; the
    caption is (the enhancer's model path is tested against the same fake on its own)."""
    with FakeLlm() as llm:
        env = {
            "I2V_LLM_BASE_URL": llm.base_url,
            "I2V_LLM_MODEL": llm.model,
            "I2V_LLM_API_KEY": llm.key,
        }
        with running_api(db, tmp_path, monkeypatch, env=env) as api:
            llm.script(Reply(content=WRITTEN))
            good = post(api, api.alice, prompt="waves roll in", caption="instagram")
            assert good.status_code == 201, good.text
            (asked,) = llm.seen
            assert "instagram" in str(asked.messages[0]).lower()
            assert asked.headers["authorization"] == f"Bearer {llm.key}"
            assert good.json()["captions"]["instagram"] == WRITTEN
            llm.script(Reply(fault="500"), Reply(fault="500"))  # one retry, then the templates
            fallback = post(api, api.alice, prompt="clouds drift", caption="instagram")
            assert fallback.status_code == 201, fallback.text
            assert len(llm.seen) == 3
    assert "Made with AI" in fallback.json()["captions"]["instagram"]
