"""OpenAIChat and the enhancer's LLM path against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from i2v.config import Settings
from i2v.errors import ConfigError, LlmError
from i2v.prompts.base import ChatMessage, Enhanced, EnhanceRequest, Family
from i2v.prompts.enhance import enhance
from i2v.prompts.llm import OpenAIChat, chat_from_settings
from i2v.prompts.presets import STABILITY
from tests.fakes.llm import FakeLlm, Reply

pytestmark = pytest.mark.integration

PROMPT = "slow zoom in on her face as she smiles"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLlm]:
    with FakeLlm(slow_s=0.5) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLlm) -> FakeLlm:
    server.replies.clear()
    server.seen.clear()
    server.default = Reply()
    return server


def _chat(fake: FakeLlm, **options: object) -> OpenAIChat:
    settings: dict[str, object] = {"api_key": fake.key, "timeout_s": 2.0, "backoff_s": 0.0}
    return OpenAIChat(fake.base_url, fake.model, **(settings | options))  # type: ignore[arg-type]


def _enhance(
    fake: FakeLlm, prompt: str = PROMPT, *, image: bytes | None = None, **options: object
) -> Enhanced:
    with _chat(fake, **options) as chat:
        return enhance(EnhanceRequest(prompt, Family.WAN, "abc", image_jpeg=image), chat=chat)


def test_a_good_answer_is_used(fake: FakeLlm) -> None:
    result = _enhance(fake)
    assert result.source == "llm"
    assert result.prompt.startswith(PROMPT)
    assert result.prompt.endswith(STABILITY)
    assert result.notes == ()
    (seen,) = fake.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.body["model"] == fake.model
    assert seen.body["temperature"] == 0.2
    assert isinstance(seen.body["max_tokens"], int)
    system, user = seen.messages
    assert system["role"] == "system"
    assert "never add a camera move" in system["content"]
    assert user["content"].startswith(f"Prompt: {PROMPT}\n")  # text only: no image was given
    assert "push in on her face" in user["content"]  # the rules' parse goes along
    assert seen.image_urls() == []
    # The same request is deterministic on our side too.
    assert _enhance(fake).prompt == result.prompt


def test_an_enhanced_prompt_is_not_sent_again(fake: FakeLlm) -> None:
    once = _enhance(fake)
    assert _enhance(fake, once.prompt).prompt == once.prompt
    assert len(fake.seen) == 1


@pytest.mark.parametrize(
    ("fault", "requests", "note"),
    [
        ("500", 2, " failed (HTTP 500)"),
        ("503", 2, " failed (HTTP 503)"),
        ("429", 2, " was busy (HTTP 429)"),
        ("timeout", 2, " could not be reached or timed out"),
        ("401", 1, " refused our credentials (HTTP 401)"),
        ("404", 1, " refused the request (HTTP 404)"),
        ("garbage", 1, " gave no usable answer"),
        ("no_choices", 1, " gave no usable answer"),
        ("huge", 1, " gave no usable answer"),
        ("length", 1, " gave no usable answer"),
        ("refusal", 1, " gave no usable answer"),
        ("over_length", 1, "'s answer was over the 100-word limit"),
        ("adds_camera", 1, "'s answer added a camera move"),
    ],
)
def test_each_fault_falls_back_to_the_rules_with_a_note(
    fake: FakeLlm, fault: str, requests: int, note: str
) -> None:
    fake.default = Reply(fault=fault)
    started = time.monotonic()
    result = _enhance(fake, "she waves", timeout_s=0.2)
    assert time.monotonic() - started < 2
    assert result.source == "rules"
    assert result.prompt == enhance(EnhanceRequest("she waves", Family.WAN, "abc")).prompt
    assert result.notes[-1] == f"the language model{note}; used the rules"
    assert len(fake.seen) == requests  # one retry at most, and only for what may pass


def test_one_retry_then_a_good_answer(fake: FakeLlm) -> None:
    fake.script("429")
    result = _enhance(fake)
    assert result.source == "llm"
    assert len(fake.seen) == 2


def test_no_retry_when_retries_is_zero(fake: FakeLlm) -> None:
    fake.default = Reply(fault="500")
    with _chat(fake, retries=0) as chat, pytest.raises(LlmError) as info:
        chat.complete([ChatMessage("user", "hi")], max_tokens=16)
    assert (info.value.status, info.value.retryable) == (500, True)
    assert "server_error" in str(info.value)
    assert len(fake.seen) == 1


def test_reasoning_and_content_parts_are_read(fake: FakeLlm) -> None:
    fake.script("think", "parts")
    first = _enhance(fake)
    assert first.source == "llm"
    assert "think" not in first.prompt
    assert _enhance(fake).prompt == first.prompt


def test_the_image_goes_as_a_data_url_only_when_given(fake: FakeLlm) -> None:
    jpeg = b"\xff\xd8\xff\xe0fake jpeg\xff\xd9"
    assert _enhance(fake, image=jpeg).source == "llm"
    (seen,) = fake.seen
    assert seen.image_urls() == ["data:image/jpeg;base64," + base64.b64encode(jpeg).decode()]
    user = seen.messages[1]["content"]
    assert user[0]["type"] == "text"
    assert user[0]["text"].startswith("Prompt: ")
    assert isinstance(seen.messages[0]["content"], str)  # the system prompt stays a string


def test_the_key_goes_as_a_bearer_token_and_never_into_errors(fake: FakeLlm) -> None:
    assert fake.key is not None
    _enhance(fake)
    assert fake.seen[0].headers["authorization"] == f"Bearer {fake.key}"
    fake.default = Reply(fault="401")  # its message echoes the key back
    with _chat(fake) as chat, pytest.raises(LlmError) as info:
        chat.complete([ChatMessage("user", "hi")], max_tokens=16)
    assert info.value.status == 401
    assert not info.value.retryable
    assert fake.key not in str(info.value)
    assert fake.key not in repr(chat)
    result = _enhance(fake)
    assert all(fake.key not in note for note in result.notes)


def test_no_key_sends_no_authorization(fake: FakeLlm) -> None:
    with FakeLlm(key=None) as open_server, _chat(open_server, api_key=None) as chat:
        assert chat.complete([ChatMessage("user", "Prompt: hi")], max_tokens=16)
        assert "authorization" not in open_server.seen[0].headers


def test_the_body_read_is_capped(fake: FakeLlm) -> None:
    with _chat(fake, max_body_bytes=4096) as chat:
        assert chat.complete([ChatMessage("user", "Prompt: hi")], max_tokens=16)
        fake.default = Reply(fault="huge")
        with pytest.raises(LlmError, match="over 4096 bytes") as info:
            chat.complete([ChatMessage("user", "Prompt: hi")], max_tokens=16)
    assert not info.value.retryable


def test_a_dripping_answer_hits_the_whole_call_deadline() -> None:
    ticks = iter(range(0, 10_000, 5))

    def drip() -> Iterator[bytes]:
        yield from (b" " for _ in range(100))

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=drip()))
    chat = OpenAIChat(
        "http://llm.invalid/v1",
        "m",
        timeout_s=1.0,
        retries=0,
        transport=transport,
        clock=lambda: float(next(ticks)),
    )
    with chat, pytest.raises(LlmError, match="did not answer within 1 s") as info:
        chat.complete([ChatMessage("user", "hi")], max_tokens=16)
    assert info.value.retryable


def test_chat_from_settings() -> None:
    unset = Settings(_env_file=None)  # type: ignore[call-arg]
    assert chat_from_settings(unset) is None
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        llm_base_url="http://127.0.0.1:11434/v1",
        llm_model="qwen2.5:7b",
        llm_api_key=SecretStr("ollama"),
        llm_timeout_s=3,
        llm_retries=0,
    )
    chat = chat_from_settings(settings)
    assert chat is not None
    assert (chat.model, chat.timeout_s, chat.retries) == ("qwen2.5:7b", 3, 0)
    with pytest.raises(ConfigError):
        OpenAIChat("ftp://host/v1", "m")
    with pytest.raises(ConfigError):
        OpenAIChat("http://host/v1", "m", api_key="has a space")
