"""The API's framing fields and music: taken, recorded on the job, and refused precisely."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from i2v.db.engine import Database
from tests.support.api import EXAMPLE, QUICK, Api, running_api, sse_events

pytestmark = pytest.mark.integration

PICTURE = ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")


def _wav(seconds: float = 1.0, rate: int = 22050) -> bytes:
    """A mono 440 Hz tone as WAV bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))
        )
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with running_api(db, tmp_path, monkeypatch) as running:
        yield running


def test_framing_fields_and_music_make_the_video_asked_for(api: Api, tmp_path: Path) -> None:
    fields = {
        **QUICK,
        "motion": "zoom-out,pan-left",
        "focus": "0.3,0.4",
        "fit": "contain",
        "backdrop": "mirror",
        "cover_at": "1.5",
    }
    files = {"image": PICTURE, "audio": ("song.wav", _wav(), "audio/wav")}
    response = api.client.post("/v1/jobs", headers=api.alice, files=files, data=fields)
    assert response.status_code == 201, response.text
    job = response.json()
    spec = job["spec"]
    assert (spec["motion"], spec["then"]) == ("zoom-out", ["pan-left"])
    assert (spec["focus"], spec["backdrop"], spec["cover_at"]) == ([0.3, 0.4], "mirror", 1.5)
    assert len(spec["music_sha256"]) == 64
    done = api.wait(api.alice, job["id"])
    assert done["state"] == "succeeded", done
    video = tmp_path / "video.mp4"
    video.write_bytes(api.client.get(f"/v1/jobs/{job['id']}/video", headers=api.alice).content)
    with av.open(str(video)) as container:
        sound = container.streams.audio[0].codec_context
        assert (sound.name, sound.sample_rate, sound.channels) == ("aac", 48000, 2)
    with api.client.stream("GET", f"/v1/jobs/{job['id']}/events", headers=api.alice) as events:
        text = "".join(events.iter_text())
    framing = [json.loads(e["data"]) for e in sse_events(text) if e.get("event") == "framing"]
    assert [{k: e[k] for k in ("focus", "source")} for e in framing] == [
        {"focus": [0.3, 0.4], "source": "user"}
    ]
    # The music is stored like the pictures, and goes with the job.
    assert api.client.delete(f"/v1/jobs/{job['id']}", headers=api.alice).status_code == 204
    stored = list((tmp_path / "data").rglob("*.audio"))
    assert stored == []


@pytest.mark.parametrize(
    ("fields", "files", "status", "field", "detail"),
    [
        ({"focus": "2,0.5"}, {}, 422, "focus", "X and Y are fractions of the picture, from 0 to 1"),
        ({"focus": "middle"}, {}, 422, "focus", "is not X,Y (two fractions, e.g. 0.3,0.4)"),
        ({"cover_at": "9"}, {}, 422, "cover_at", "cover_at 9 is not a time in the video (0-3s)"),
        ({"backdrop": "neon"}, {}, 422, "backdrop", "is not one of: blur, colour, mirror"),
        ({"motion": "zoom-in,spin"}, {}, 422, "motion", "unknown motion 'spin'"),
        ({"audio": "true"}, {}, 422, "audio", "attach the music as a file part"),
        ({}, {"audio": ("notes.mp3", b"not a song", "audio/mpeg")}, 422, "audio",
         "is not an audio file we can read"),
        ({}, {"audio": ("cover.mp3", EXAMPLE.read_bytes(), "audio/mpeg")}, 422, "audio",
         "is an image, not audio"),
    ],
)  # fmt: skip
def test_bad_framing_and_music_are_refused_before_anything_is_stored(
    api: Api,
    tmp_path: Path,
    fields: dict[str, str],
    files: dict[str, Any],
    status: int,
    field: str,
    detail: str,
) -> None:
    response = api.client.post(
        "/v1/jobs",
        headers=api.alice,
        files={"image": PICTURE, **files},
        data={**QUICK, **fields},
    )
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["field"] == field
    assert detail in problem["detail"]
    assert api.client.get("/v1/jobs", headers=api.alice).json()["jobs"] == []
    assert list((tmp_path / "data").rglob("inputs/*")) == []


def test_music_over_its_cap_is_a_413(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"I2V_MAX_AUDIO_MB": "1", "I2V_MAX_UPLOAD_MB": "4"}
    with running_api(db, tmp_path, monkeypatch, env=env) as api:
        big = ("long.wav", b"\0" * (1024 * 1024 + 1), "audio/wav")
        response = api.client.post(
            "/v1/jobs", headers=api.alice, files={"image": PICTURE, "audio": big}, data=QUICK
        )
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == "the audio file is over the limit of 1048576 bytes"
