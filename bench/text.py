"""Benchmark the words and the policy per job on the offline path, against simple baselines.

What each job pays, measured here in one run:
- enhancement: `enhance` (the rules path) per prompt, against the parse it replaced
  (`motion_from_prompt`) and a bare f-string template: the ratios say what the rules add;
- captions: `caption` for Instagram and TikTok, against an f-string caption;
- the text policy: `rate_text` per prompt, against better-profanity's `contains_profanity`
  (the standard offline word check);
- the image classifier: `OpenNsfwClassifier.score` on a 1080x1920 picture (downscale
  included), against decoding and shrinking the same picture with Pillow;
- the labelled set (tests/data/policy_prompts.jsonl): the confusion matrix, refused prompts
  allowed (target 0) and allowed prompts refused (target <= 3%).

Targets: enhancement and captions <= 5 ms a job, the text policy <= 2 ms, the classifier <=
300 ms a picture. Times are medians over `--repeat` passes over the prompts.

    python bench/text.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from tests.conftest import photo_pixels  # noqa: E402

from i2v.policy.evaluate import confusion, evaluate, format_confusion, load_labelled  # noqa: E402
from i2v.policy.image import OpenNsfwClassifier, downscaled  # noqa: E402
from i2v.policy.text import rate_text  # noqa: E402
from i2v.prompts.base import EnhanceRequest, Family, Platform  # noqa: E402
from i2v.prompts.captions import caption  # noqa: E402
from i2v.prompts.enhance import enhance  # noqa: E402
from i2v.prompts.motion import motion_from_prompt  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "policy_prompts.jsonl"
PROMPTS = [
    "make her hair blow, slow push in",
    "a dog running on the beach at sunset",
    "dramatic zoom in on her face, cinematic lighting",
    "zoom out then pan left across the snowy mountains",
    'the neon sign flickers and reads "OPEN ALL NIGHT", rain on the street',
    "pan left to right over the city skyline at night, slow and smooth",
    "a bowl of ramen steaming on a wooden table, gentle handheld camera",
    "",
    "the waves crash against the lighthouse while seagulls circle overhead, clouds race by",
    "an old car drives down a dusty desert road, camera follows it, golden hour",
]
FAMILIES = (Family.WAN, Family.LTX, Family.HUNYUAN, Family.COGVIDEOX, Family.HOSTED)


def per_call_ms(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """The median over `repeat` passes of the mean time of one call, in ms."""
    fn()  # warm: word lists and models load on first use
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        passes.append((time.perf_counter() - started) / calls * 1000)
    return statistics.median(passes)


def cycle(items: Sequence[object]) -> Callable[[], object]:
    index = [0]

    def next_item() -> object:
        index[0] = (index[0] + 1) % len(items)
        return items[index[0]]

    return next_item


def row(what: str, ms: float, baseline: str, base_ms: float, target_ms: float) -> None:
    verdict = "PASS" if ms <= target_ms else "MISS"
    print(
        f"{what:<34} {ms:8.3f} ms  {baseline:<30} {base_ms:8.3f} ms  "
        f"ratio {ms / base_ms:7.3g}x  target <= {target_ms:g} ms  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat
    requests = [EnhanceRequest(p, f, image_sha256="bench") for p in PROMPTS for f in FAMILIES]
    next_request = cycle(requests)
    next_prompt = cycle(PROMPTS)

    def enhance_one() -> object:
        request = next_request()
        assert isinstance(request, EnhanceRequest)
        return enhance(request)

    def template_one() -> object:
        return f"{next_prompt()}. Background stays consistent, smooth natural motion."

    def parse_one() -> object:
        return motion_from_prompt(str(next_prompt()))

    def captions_one() -> object:
        prompt = str(next_prompt())
        return [caption(prompt, p, max_hashtags=5, seed="bench") for p in Platform]

    def naive_caption() -> object:
        prompt = str(next_prompt())
        return [f"{prompt}\nMade with AI\n#aivideo" for _ in Platform]

    def policy_one() -> object:
        return rate_text(str(next_prompt()))

    from better_profanity import Profanity

    profanity = Profanity()

    def profanity_one() -> object:
        return profanity.contains_profanity(str(next_prompt()))

    calls = len(requests)
    print(f"{len(PROMPTS)} prompts x {len(FAMILIES)} families; median of {repeat} passes\n")
    enhance_ms = per_call_ms(enhance_one, calls, repeat)
    row("enhance (rules), per job", enhance_ms, "motion_from_prompt",
        per_call_ms(parse_one, calls, repeat), 5)  # fmt: skip
    row("", enhance_ms, "f-string template", per_call_ms(template_one, calls, repeat), 5)
    captions_ms = per_call_ms(captions_one, len(PROMPTS), repeat)
    naive_ms = per_call_ms(naive_caption, len(PROMPTS), repeat)
    row("captions (instagram+tiktok), job", captions_ms, "f-string captions", naive_ms, 5)
    row("enhance + both captions, per job", enhance_ms + captions_ms, "f-strings for both",
        naive_ms + per_call_ms(template_one, calls, repeat), 5)  # fmt: skip
    # Each of the labelled set's allowed prompts once, never seen before in this process: the
    # profanity filter remembers words, so the cycled prompts above run on a warm memory.
    unseen = [item.prompt for item in load_labelled(LABELLED) if item.expected == "allow"]
    started = time.perf_counter()
    for prompt in unseen:
        for platform in Platform:
            caption(prompt, platform, max_hashtags=5, seed="bench")
    unseen_ms = (time.perf_counter() - started) / len(unseen) * 1000
    row(f"captions, {len(unseen)} unseen prompts", unseen_ms, "f-string captions", naive_ms, 5)
    row("text policy (rate_text), per job", per_call_ms(policy_one, len(PROMPTS), repeat),
        "better-profanity check", per_call_ms(profanity_one, len(PROMPTS), repeat), 2)  # fmt: skip

    picture = photo_pixels(1080, 1920)
    encoded = io.BytesIO()
    Image.fromarray(picture).save(encoded, format="JPEG", quality=90)
    classifier = OpenNsfwClassifier()
    started = time.perf_counter()
    classifier.score(picture)
    cold_ms = (time.perf_counter() - started) * 1000

    def classify_one() -> object:
        return classifier.score(picture)

    def shrink_one() -> object:
        with Image.open(io.BytesIO(encoded.getvalue())) as img:
            return downscaled(__import__("numpy").asarray(img.convert("RGB")))

    row("image classifier, 1080x1920", per_call_ms(classify_one, 5, repeat),
        "decode + shrink the JPEG", per_call_ms(shrink_one, 5, repeat), 300)  # fmt: skip
    print(f"{'':<34} first call in this process (model load): {cold_ms:.0f} ms\n")

    rows = evaluate(load_labelled(LABELLED))
    counts = confusion(rows)
    print(f"labelled set: {len(rows)} prompts ({LABELLED.relative_to(ROOT)})")
    print(format_confusion(counts))
    refused_allowed = counts["refuse_allowed"]
    allowed_total = counts["allow_refused"] + counts["allow_allowed"]
    false_refusals = counts["allow_refused"] / allowed_total if allowed_total else 0.0
    print(
        f"refused prompts allowed: {refused_allowed} (target 0, "
        f"{'PASS' if refused_allowed == 0 else 'MISS'}); allowed prompts refused: "
        f"{false_refusals:.1%} (target <= 3%, {'PASS' if false_refusals <= 0.03 else 'MISS'})"
    )


if __name__ == "__main__":
    main()
