"""The one file that speaks the OpenAI chat-completions wire format (OpenAI, Ollama, vLLM).

A thin sync httpx client: POST {base_url}/chat/completions with model, messages, temperature
and max_tokens; the answer is choices[0].message.content. Every failure is an `LlmError`
whose message holds a status and at most the server's error code, never its text (a server
can echo the key) and never the key. The body read is capped, so a hostile or broken server
cannot exhaust memory, and each attempt has a whole-call deadline, so it cannot drip forever.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from i2v.errors import ConfigError, LlmError
from i2v.prompts.base import ChatMessage

if TYPE_CHECKING:
    from i2v.config import Settings

Clock = Callable[[], float]
Sleep = Callable[[float], None]
JsonValue = str | int | float | bool | None | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
MAX_BODY_BYTES = 1 << 20
CHUNK = 1 << 16
_KEY = re.compile(r"[!-~]+")
# OpenAI's codes and types are words: rate_limit_exceeded, server_error, invalid_api_key.
_CODE = re.compile(r"[a-z_]{1,48}")
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for the process: loading the CA bundle takes tens of milliseconds."""
    return httpx.create_ssl_context()


class OpenAIChat:
    """A `ChatModel` over an OpenAI-compatible endpoint, with at most `retries` retries."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: SecretStr | str | None = None,
        timeout_s: float = 10.0,
        retries: int = 1,
        temperature: float = 0.2,
        max_body_bytes: int = MAX_BODY_BYTES,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "I2V_LLM_BASE_URL must be an http(s) URL, e.g. http://127.0.0.1:11434/v1"
            )
        if not model:
            raise ConfigError("the chat model has no name: set I2V_LLM_MODEL")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if key and not _KEY.fullmatch(key):  # else it fails only when sent, as a header error
            raise ConfigError("I2V_LLM_API_KEY is not a token (printable ASCII, no spaces)")
        self.model = model
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.temperature = temperature
        self.max_body_bytes = max_body_bytes
        self._backoff_s = backoff_s
        self._clock = clock
        self._sleep = sleep
        self._secret = key or ""  # only to keep it out of messages
        self._url = base_url.rstrip("/") + "/chat/completions"
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._public = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        # Redirects are never followed: they could carry the key to another host.
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            verify=_tls(),
        )

    def __repr__(self) -> str:
        return f"OpenAIChat(base_url={self._public!r}, model={self.model!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIChat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> str:
        """The model's answer; retries once at most, and only what may pass (timeouts, 429, 5xx)."""
        body: dict[str, JsonValue] = {
            "model": self.model,
            "messages": [_wire(message) for message in messages],
            "temperature": self.temperature,
            "max_tokens": max_tokens,
            "stream": False,
        }
        attempt = 0
        while True:
            try:
                return self._once(body)
            except LlmError as exc:
                if not exc.retryable or attempt >= self.retries:
                    raise
            attempt += 1
            self._sleep(self._backoff_s)

    def _once(self, body: Mapping[str, JsonValue]) -> str:
        deadline = self._clock() + self.timeout_s
        try:
            with self._http.stream("POST", self._url, json=body) as response:
                raw = self._read(response, deadline)
        except httpx.TimeoutException:
            raise LlmError(
                f"{self._public} did not answer within {self.timeout_s:g} s", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            message = f"{self._public} failed: {type(exc).__name__}"
            raise LlmError(message, retryable=isinstance(exc, _RETRYABLE)) from None
        status = response.status_code
        if not 200 <= status < 300:
            code = _error_code(raw, self._secret)
            detail = f" ({code})" if code else ""
            retryable = status in (408, 429) or status >= 500
            raise LlmError(
                f"{self._public} answered HTTP {status}{detail}", status=status, retryable=retryable
            )
        return self._content(raw, status)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        status = response.status_code
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):  # asked for identity: a compressed body may be a bomb
            raise LlmError(f"{self._public} sent a {encoding}-compressed answer", status=status)
        over = f"{self._public} sent an answer over {self.max_body_bytes} bytes"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise LlmError(over, status=status)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw(CHUNK):
            size += len(chunk)
            if size > self.max_body_bytes:
                raise LlmError(over, status=status)
            if self._clock() > deadline:
                message = f"{self._public} did not answer within {self.timeout_s:g} s"
                raise LlmError(message, retryable=True)
            chunks.append(chunk)
        return b"".join(chunks)

    def _content(self, raw: bytes, status: int) -> str:
        def garbage(reason: str) -> LlmError:
            return LlmError(f"{self._public}: {reason}", status=status)

        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise garbage("the answer is not JSON") from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise garbage("the answer has no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise garbage("the answer's choice has no message")
        if message.get("refusal"):
            raise garbage("the model refused")
        content = message.get("content")
        if isinstance(content, list):  # content parts, as some servers send them
            content = "".join(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        if not isinstance(content, str) or not content.strip():
            raise garbage("the answer is empty")
        if choices[0].get("finish_reason") == "length":
            raise garbage("the answer was cut off at max_tokens")
        return content


def chat_from_settings(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = time.monotonic,
) -> OpenAIChat | None:
    """The chat model the I2V_LLM_* settings describe; None when I2V_LLM_BASE_URL is unset."""
    if not settings.llm_base_url:
        return None
    return OpenAIChat(
        settings.llm_base_url,
        settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        transport=transport,
        clock=clock,
    )


def _wire(message: ChatMessage) -> dict[str, JsonValue]:
    if message.image_jpeg is None:
        return {"role": message.role, "content": message.text}
    url = "data:image/jpeg;base64," + base64.b64encode(message.image_jpeg).decode("ascii")
    parts: list[JsonValue] = [
        {"type": "text", "text": message.text},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return {"role": message.role, "content": parts}


def _error_code(raw: bytes, secret: str) -> str | None:
    """The error's code or type from an OpenAI error body, if it is a plain lower-case word."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for name in ("code", "type"):
        value = error.get(name)
        if isinstance(value, str) and _CODE.fullmatch(value):
            return None if secret and (value in secret or secret in value) else value
    return None
