"""Social captions: profanity, hashtags, the offline caption's limits and structure, and the
chat model's rewrite accepted only when it passes the same checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from i2v.errors import LlmError
from i2v.prompts.base import Caption, ChatMessage, Platform
from i2v.prompts.caption_templates import DISCLOSURE
from i2v.prompts.captions import (
    CAPTION_LIMIT,
    HOOK_LIMITS,
    assemble,
    caption,
    caption_length,
    captions_for,
)
from i2v.prompts.hashtags import AI_TAG, DENIED, hashtags, is_valid_tag, tag_problem
from i2v.prompts.profanity import clean, is_profane
from i2v.prompts.words import has_camera_talk

IG, TT = Platform.INSTAGRAM, Platform.TIKTOK

PROMPTS = [
    "beach sunset",
    "a dog running on the beach",
    "a portrait of a woman, slow push in on her face",
    "a city at night, neon lights reflecting in puddles, camera pans left",
    "steaming bowl of ramen with chopsticks lifting noodles, close-up",
    "a red Porsche 911 drifting around a mountain corner, tracking shot",
    "bride and groom sharing their first dance under string lights",
    "snowy mountains at sunrise, clouds rolling through the valley, slow zoom out",
    "abstract swirling colors and geometric shapes, 4k, masterpiece",
    "make her hair blow, slow push in",
    "un perro corriendo en la playa al atardecer",
    "🌊🌊 waves crashing on rocks 🔥🔥 sunset vibes 😍",
    "",
    "a lighthouse on a cliff above a stormy sea, waves crashing against the rocks, " * 26,
    "fucking shit this damn bitch ass sunset is fucking gorgeous",
    "golden hour in Santorini #travel #fyp #Greece #viral #santorini",
]


def _tags_of(text: str) -> list[str]:
    return [word for word in text.split() if word.startswith("#")]


# -- profanity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Scunthorpe", "assassin", "shiitake", "cocktail", "class", "peacock", "Essex", "button",
     "title", "grass", "god rays over the sea", "a rice paddy", "a mountain slope", "a gay couple"],
)  # fmt: skip
def test_innocent_words_pass(text: str) -> None:
    assert not is_profane(text)
    assert clean(text) == text


@pytest.mark.parametrize("text", ["fuck", "FUCK this", "sh1t", "a$$hole", "what a bitch"])
def test_profanity_is_found_in_any_case_and_common_disguises(text: str) -> None:
    assert is_profane(text)
    assert not is_profane(clean(text))


def test_clean_drops_the_words_and_tidies_the_spaces() -> None:
    assert clean("this fucking sunset is shit, honestly") == "this sunset is, honestly"
    assert clean("line one\nfuck yes") == "line one\nyes"


def test_the_packages_shared_instance_is_left_alone() -> None:
    from better_profanity import profanity as shared

    before = shared.CENSOR_WORDSET
    assert not is_profane("god")
    assert shared.CENSOR_WORDSET is before
    assert shared.contains_profanity("god")  # our allowed words are ours alone


def test_the_word_index_answers_as_the_plain_word_list_does() -> None:
    from better_profanity import Profanity

    from i2v.prompts.profanity import _ALLOWED, _filter

    plain = Profanity()
    plain.load_censor_words(whitelist_words=list(_ALLOWED))
    texts = ["f*ck the sh1t", "@ss and a$$hole", "B1TCH please", "hand job", "Scunthorpe",
             "god paddy slope", "5h1t l0l wank3r", "p0rn pu55y c0ck", "FuCk YoU"]  # fmt: skip
    for text in texts:
        assert _filter().censor(text, "*") == plain.censor(text, "*")


# -- hashtags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["#sunset", "#GoldenHour", "#café", "#日本", "#ab_c", "#2024sunset", "#नमस्ते"]
)
def test_valid_tags(tag: str) -> None:
    assert tag_problem(tag) is None


@pytest.mark.parametrize(
    "tag",
    ["sunset", "#", "#x", "#1234", "#__", "#a-b", "#a b", "#hi!", "#" + "a" * 31, "#fyp",
     "#ForYou", "#for_you", "#Reels", "#explore", "#fuckthis", "#FuckThis", "#shit", "#\u0301ab"],
)  # fmt: skip
def test_invalid_generic_and_profane_tags(tag: str) -> None:
    assert tag_problem(tag) is not None


@pytest.mark.parametrize("limit", range(8))
def test_at_most_the_limit_and_never_more_than_five(limit: int) -> None:
    tags = hashtags("a dog running on the beach at sunset, golden hour, ocean waves", limit)
    assert len(tags) == min(limit, 5)
    if limit >= 2:
        assert tags[-1] == AI_TAG  # counted within the limit
    elif limit == 1:
        assert tags != (AI_TAG,)  # with room for one, a tag about the video


def test_own_tags_are_kept_deduplicated_without_filler_or_digits() -> None:
    tags = hashtags("#Sunset #sunset #SUNSET #fyp #viral #2024 #reels sunset on the beach", 5)
    keys = [t.casefold() for t in tags]
    assert keys.count("#sunset") == 1
    assert not {t.lstrip("#").casefold() for t in tags} & DENIED
    assert "#2024" not in tags
    assert all(is_valid_tag(t) for t in tags)


def test_an_ai_tag_in_the_prompt_is_not_doubled() -> None:
    tags = hashtags("#aiart a cat asleep on a windowsill", 5)
    assert "#aiart" in tags
    assert AI_TAG not in tags


def test_three_tags_even_for_an_empty_prompt() -> None:
    assert len(hashtags("", 5)) == 3
    assert len(hashtags("", 2)) == 2


def test_profanity_never_in_a_tag() -> None:
    tags = hashtags("fuck shit sunset bitch #fuckyeah #shitshow #BullShit", 5)
    assert tags
    assert not any(is_profane(t) or "fuck" in t.lower() for t in tags)


def test_two_word_terms_become_camel_case() -> None:
    assert "#GoldenHour" in hashtags("golden hour over the lake", 5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.integers(0, 30))
def test_any_prompt_gives_valid_unique_tags_within_the_limit(prompt: str, limit: int) -> None:
    tags = hashtags(prompt, limit)
    assert len(tags) <= min(limit, 5)
    assert all(is_valid_tag(t) for t in tags)
    assert len({t.casefold() for t in tags}) == len(tags)


# -- the offline caption ------------------------------------------------------------------


def _check(c: Caption, max_hashtags: int = 5) -> None:
    assert caption_length(c.text, c.platform) <= CAPTION_LIMIT
    assert caption_length(c.hook, c.platform) <= HOOK_LIMITS[c.platform]
    lines = c.text.split("\n")
    expected = [c.hook, *c.body, c.call_to_action, c.disclosure]
    assert lines[: len(expected)] == expected
    assert c.disclosure == DISCLOSURE
    assert 1 <= len(c.body) <= 2
    assert all(c.body)
    if c.hashtags:
        assert lines[-1] == " ".join(c.hashtags)
    assert _tags_of(c.text) == list(c.hashtags)  # none anywhere but the last line
    assert len(c.hashtags) <= min(max_hashtags, 5)
    assert all(is_valid_tag(t) for t in c.hashtags)
    assert not is_profane(c.text)
    assert not has_camera_talk(c.hook)


@pytest.mark.parametrize("platform", [IG, TT])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_caption_has_its_structure_and_keeps_the_limits(
    prompt: str, platform: Platform
) -> None:
    c = caption(prompt, platform, max_hashtags=5)
    _check(c)
    assert c.source == "template"
    if prompt:
        assert 3 <= len(c.hashtags) <= 5


def test_lengths_are_counted_as_each_platform_counts() -> None:
    assert caption_length("a😀", IG) == 2
    assert caption_length("a😀", TT) == 3
    assert caption_length("é", TT) == 1
    assert caption_length("\ud800", TT) == 1  # a lone surrogate from JSON does not crash it


@pytest.mark.parametrize("platform", [IG, TT])
def test_a_prompt_full_of_emoji(platform: Platform) -> None:
    c = caption("🌊🔥😍🏳️‍🌈👨‍👩‍👧 " * 500 + "sunset", platform, max_hashtags=5)
    _check(c)


@pytest.mark.parametrize(
    "prompt",
    ["a portrait of a woman, slow push in on her face", "make her hair blow, slow push in",
     "zoom in on the city at night", "pan left across the skyline at dusk",
     "the camera slowly tracks forward through a misty forest", "dolly out from a lighthouse"],
)  # fmt: skip
def test_camera_directions_never_reach_the_hook(prompt: str) -> None:
    for platform in (IG, TT):
        hook = caption(prompt, platform, max_hashtags=5).hook.lower()
        for word in ("push in", "zoom", "pan left", "camera", "dolly", "tracks"):
            assert word not in hook


def test_an_instruction_reads_as_what_one_sees() -> None:
    assert "hair blowing in the wind" in caption("make her hair blow", IG, max_hashtags=5).hook


def test_the_same_input_gives_the_same_caption_and_the_seed_varies_it() -> None:
    first = caption("a cat asleep in a sunbeam", IG, max_hashtags=5, seed="a")
    assert caption("a cat asleep in a sunbeam", IG, max_hashtags=5, seed="a") == first
    seeds = {
        caption("a cat asleep in a sunbeam", IG, max_hashtags=5, seed=s).text for s in "bcdefg"
    }
    assert len(seeds) > 1


def test_profanity_is_left_out_with_a_note_and_scunthorpe_stays() -> None:
    c = caption("fucking gorgeous sunset over shitty Scunthorpe", IG, max_hashtags=5)
    assert not is_profane(c.text)
    assert "Scunthorpe" in c.text
    assert any("profane" in note for note in c.notes)


def test_the_prompts_own_hashtags_leave_the_hook() -> None:
    c = caption("golden hour in Santorini #travel #fyp", IG, max_hashtags=5)
    assert "#" not in c.hook
    assert "#travel" in c.hashtags
    assert "#fyp" not in c.hashtags


def test_an_empty_prompt_gets_a_generic_caption_with_a_note() -> None:
    c = caption("", TT, max_hashtags=5)
    _check(c)
    assert c.notes


def test_a_subject_hint_leads_the_hook() -> None:
    c = caption("slow push in", IG, max_hashtags=5, subject_hint="a golden retriever puppy")
    assert "golden retriever puppy" in c.hook


def test_captions_for_each_platform_with_its_own_limit() -> None:
    both = captions_for("a dog on the beach", [IG, TT, IG], max_hashtags={IG: 2, TT: 0})
    assert list(both) == [IG, TT]
    assert len(both[IG].hashtags) == 2
    assert both[TT].hashtags == ()
    assert "#" not in both[TT].text
    _check(both[TT], 0)


def _padded(platform: Platform, units: int) -> list[str]:
    """A body line that makes the caption below exactly `units` long on `platform`."""
    fixed = assemble(platform, "Hook 🌊", ["x"], "Save this.", ["#sunset"]).text
    room = units - caption_length(fixed, platform) + 1
    pad = "🌊" * (room // 4) if platform is TT else "é" * (room // 2)
    rest = room - caption_length(pad, platform)
    return [pad + "a" * rest]


@pytest.mark.parametrize("platform", [IG, TT])
def test_a_caption_exactly_at_the_limit_is_kept_and_one_more_is_trimmed(
    platform: Platform,
) -> None:
    body = _padded(platform, CAPTION_LIMIT)
    at = assemble(platform, "Hook 🌊", body, "Save this.", ["#sunset"])
    assert caption_length(at.text, platform) == CAPTION_LIMIT
    assert at.body == tuple(body)
    assert not at.notes
    over = assemble(platform, "Hook 🌊", [body[0] + "a"], "Save this.", ["#sunset"])
    assert caption_length(over.text, platform) <= CAPTION_LIMIT
    assert over.notes
    assert over.hashtags == ("#sunset",)
    assert over.disclosure == DISCLOSURE
    assert over.text.endswith(f"{DISCLOSURE}\n#sunset")


def test_trimming_drops_the_last_body_line_first() -> None:
    c = assemble(IG, "Hook", ["keep me", "b" * 2500], "Follow.", ["#a1", "#b2"])
    assert c.body == ("keep me",)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2500), st.sampled_from([IG, TT]), st.integers(0, 30), st.text(max_size=8))
def test_any_prompt_gives_a_caption_within_the_limits(
    prompt: str, platform: Platform, limit: int, seed: str
) -> None:
    _check(caption(prompt, platform, max_hashtags=limit, seed=seed), limit)


# -- the chat model's rewrite ---------------------------------------------------------------


class ScriptedChat:
    """A ChatModel that gives the answers it was handed, in order, and keeps what it was asked."""

    def __init__(self, *answers: str | LlmError) -> None:
        self.answers = list(answers)
        self.asked: list[Sequence[ChatMessage]] = []

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> str:
        self.asked.append(messages)
        answer = self.answers.pop(0)
        if isinstance(answer, LlmError):
            raise answer
        return answer


GOOD = (
    "Golden light, slow waves, one perfect evening 🌅\n"
    "Beach sunset and golden hour by the sea.\n"
    "Where would you watch this from?\n"
    "Made with AI\n"
    "#BeachSunset #goldenhour #seascape #aivideo"
)


def _rewritten(answer: str | LlmError, platform: Platform = IG, limit: int = 5) -> Caption:
    return caption("beach sunset", platform, max_hashtags=limit, chat=ScriptedChat(answer))


def test_a_valid_rewrite_is_used() -> None:
    chat = ScriptedChat(GOOD)
    c = caption("beach sunset, slow push in", TT, max_hashtags=5, chat=chat)
    assert c.source == "llm"
    assert c.text == GOOD
    assert c.hook.startswith("Golden light")
    assert c.call_to_action.endswith("?")
    assert c.hashtags == ("#BeachSunset", "#goldenhour", "#seascape", "#aivideo")
    system, user = chat.asked[0]
    assert system.role == "system"
    assert "TikTok" in system.text
    assert "Made with AI" in system.text
    assert "100" in system.text
    assert "emoji as two" in system.text
    assert "beach sunset" in user.text
    assert "Made with AI" in user.text


def test_thinking_fences_and_labels_are_stripped() -> None:
    answer = "<think>keep it short</think>\nHere's your caption:\n```\n" + GOOD + "\n```"
    assert _rewritten(answer).text == GOOD
    labelled = GOOD.replace("Golden light", "Hook: Golden light").replace(
        "#Beach", "Hashtags: #Beach"
    )
    assert _rewritten(labelled).text == GOOD


def _refused(answer: str | LlmError, platform: Platform = IG, limit: int = 5) -> str:
    c = _rewritten(answer, platform, limit)
    template = caption("beach sunset", platform, max_hashtags=limit)
    assert replace(c, notes=template.notes) == template
    return c.notes[-1]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (GOOD.replace("Beach sunset and", "Beach sunset " + "and more " * 250), "over 2200"),
        (GOOD + " #ocean #waves", "hashtags, over 5"),
        (GOOD.replace("#seascape", "#fyp"), "generic"),
        (GOOD.replace("#seascape", "#beachsunset"), "repeated"),
        (GOOD.replace("#seascape", "#1234"), "no letter"),
        (GOOD.replace("one perfect evening", "one fucking perfect evening"), "profan"),
        (GOOD.replace("Made with AI\n", ""), "Made with AI"),
        (GOOD.replace("Golden light,", "Slow push in: golden light,"), "camera"),
        (GOOD.replace("Golden light", "Golden light " * 12), "hook over 125"),
        (GOOD.replace("Beach sunset and", "#sunset and"), "outside the last line"),
        ("<think>the user wants", "unfinished thinking"),
        ("Sorry, I can't help with that.", "Made with AI"),
        (GOOD.replace("Where would you watch this from?\n", ""), "not 3 or 4"),
        (LlmError("timed out after 10 s", retryable=True), "timed out"),
    ],
)
def test_a_rewrite_that_breaks_a_rule_falls_back_with_a_note(
    answer: str | LlmError, reason: str
) -> None:
    note = _refused(answer)
    assert reason in note
    assert "offline caption was used" in note


def test_a_rewrite_is_held_to_the_platforms_hashtag_limit() -> None:
    assert "over 2" in _refused(GOOD, IG, 2)
    assert _rewritten(GOOD.rsplit("\n", 1)[0], IG, 0).source == "llm"


def _llm_answer_at(units: int) -> str:
    head = "Sunset calm 🌅\n"
    tail = "\nWhere would you watch this?\nMade with AI\n#sunset #goldenhour"
    room = units - caption_length(head + tail, TT)
    return head + "🌊" * (room // 2) + "a" * (room % 2) + tail


def test_a_tiktok_rewrite_exactly_at_2200_utf16_units_is_used_and_one_more_is_not() -> None:
    at = _rewritten(_llm_answer_at(CAPTION_LIMIT), TT)
    assert at.source == "llm"
    assert caption_length(at.text, TT) == CAPTION_LIMIT
    assert len(at.text) < CAPTION_LIMIT  # code points would have let more through
    assert "over 2200" in _refused(_llm_answer_at(CAPTION_LIMIT + 1), TT)
