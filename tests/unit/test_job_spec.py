"""The stored job spec and the result cache key: an end image is kept, and changes the key;
jobs without one keep the spec and key they had before end images existed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace

from i2v.domain.job import JobSpec
from i2v.domain.motion import Intensity, Motion
from i2v.domain.spec import Backdrop, RenderSpec
from i2v.services.cache import BACKEND_VERSIONS, cache_key

RENDER = RenderSpec(Motion.ZOOM_IN, Intensity.SUBTLE, prompt="waves", model="kling-2.5-turbo-pro")
PLAIN = JobSpec(RENDER, "fal", "inputs/a.jpg", "a", candidates=("fal",))


def test_a_spec_with_an_end_image_round_trips_and_names_both_pictures() -> None:
    spec = replace(
        PLAIN,
        render=replace(RENDER, end_frame=True),
        end_input_key="inputs/0b.png",
        end_input_sha256="0b",
    )
    assert JobSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.input_keys == ("inputs/0b.png", "inputs/a.jpg")  # sorted: one lock order
    same = replace(spec, end_input_key=PLAIN.input_key)
    assert same.input_keys == ("inputs/a.jpg",)


def test_a_spec_without_one_is_stored_as_before() -> None:
    stored = PLAIN.to_json()
    assert "end_input_key" not in stored
    assert "end_frame" not in stored["render"]
    assert JobSpec.from_json(stored) == PLAIN
    assert PLAIN.input_keys == ("inputs/a.jpg",)


def test_the_end_pictures_pixels_are_part_of_the_cache_key() -> None:
    with_end = replace(RENDER, end_frame=True)
    one, other = cache_key("p", with_end, "fal", "e1"), cache_key("p", with_end, "fal", "e2")
    assert one != other
    assert one != cache_key("p", RENDER, "fal")
    # Without an end image (or any later field) the key is the one computed before they existed.
    parameters = asdict(RENDER)
    for later in ("end_frame", "then", "focus", "backdrop", "cover_at", "music_sha256"):
        del parameters[later]
    parameters["size"] = str(RENDER.size)
    material = {
        "pixels": "p",
        "backend": "local",
        "backend_version": BACKEND_VERSIONS["local"],
        "render": parameters,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    assert cache_key("p", RENDER, "local") == hashlib.sha256(canonical.encode()).hexdigest()


def test_framing_fields_round_trip_and_change_the_key() -> None:
    framed = replace(
        RENDER,
        then=(Motion.PAN_LEFT,),
        focus=(0.25, 0.4),
        backdrop=Backdrop.MIRROR,
        cover_at=1.5,
        music_sha256="ab" * 32,
    )
    spec = replace(PLAIN, render=framed)
    stored = json.loads(json.dumps(spec.to_json()))
    assert stored["render"]["then"] == ["pan-left"]
    assert stored["render"]["focus"] == [0.25, 0.4]
    assert JobSpec.from_json(stored) == spec
    keys = {cache_key("p", replace(RENDER, **{name: getattr(framed, name)}), "local")
            for name in ("then", "focus", "backdrop", "cover_at", "music_sha256")}  # fmt: skip
    assert len(keys | {cache_key("p", RENDER, "local")}) == 6
