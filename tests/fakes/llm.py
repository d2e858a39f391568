"""A fake OpenAI-compatible chat server for tests: POST /v1/chat/completions on loopback.

Shapes from the OpenAI API reference, which Ollama and vLLM copy: a ``chat.completion``
object (id, object, created, model, choices[{index, message{role, content, refusal},
logprobs, finish_reason}], usage) and error bodies ``{"error": {message, type, param,
code}}`` with 401, 404, 429, 500 and 503. Each request takes the next scripted `Reply` (or
`default`); every request is recorded in `seen` (headers and JSON body), so tests can check
the Bearer key and the image's data: URL.

    with FakeLlm() as fake:
        chat = OpenAIChat(fake.base_url, fake.model, api_key=fake.key)
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import Served, free_port

Json = dict[str, Any]
FAULTS = frozenset(
    {
        "timeout",  # answers only after `slow_s`, past the client's timeout
        "500",  # server_error
        "503",  # overloaded
        "429",  # rate_limit_exceeded, with Retry-After
        "401",  # invalid_api_key; its message echoes the key, as a careless server might
        "404",  # model_not_found
        "garbage",  # 200 with an HTML page
        "no_choices",  # 200, a completion object without choices
        "over_length",  # a good answer padded far past any family's word limit
        "adds_camera",  # a good answer plus a camera move nobody asked for
        "think",  # a <think> block before a good answer (a reasoning model)
        "huge",  # a 2 MB answer, over the client's body cap
        "length",  # finish_reason "length": the answer was cut off
        "parts",  # content as a list of text parts
        "refusal",  # content null, refusal set
    }
)


@dataclass
class Reply:
    """How one request is answered: a fault, and/or the exact content of a good answer."""

    fault: str | None = None
    content: str | None = None  # None: `echo_answer` of the user's prompt

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}")


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Json = field(default_factory=dict)

    @property
    def messages(self) -> list[Json]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    def image_urls(self) -> list[str]:
        """Every image_url part's URL, in every message."""
        urls: list[str] = []
        for message in self.messages:
            content = message.get("content")
            for part in content if isinstance(content, list) else []:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    urls.append(part["image_url"]["url"])
        return urls


def user_prompt(seen: Seen) -> str:
    """The user's prompt from our context message ("Prompt: ..."), else the whole text."""
    for message in reversed(seen.messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        text = str(content)
        for line in text.splitlines():
            if line.startswith("Prompt: "):
                return line.removeprefix("Prompt: ")
        return text
    return ""


def echo_answer(seen: Seen) -> str:
    """A plausible rewrite: the user's own words and their camera move, plus gentle motion."""
    prompt = user_prompt(seen).rstrip(". ")
    if not prompt or prompt.startswith("(empty"):
        return "Gentle, natural motion fills the scene, with small lifelike details."
    return f"{prompt}, with slow natural motion and small lifelike details."


def error_body(message: str, kind: str, code: str | None, param: str | None = None) -> Json:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class FakeLlm:
    """An OpenAI-compatible chat server on 127.0.0.1 (uvicorn in a thread)."""

    def __init__(
        self,
        *,
        key: str | None = "sk-fake-0123456789abcdef",
        model: str = "fake-chat-1",
        slow_s: float = 0.6,
        answer: Callable[[Seen], str] = echo_answer,
    ) -> None:
        self.key = key  # None: any Authorization header, or none, is accepted
        self.model = model
        self.slow_s = slow_s
        self.answer = answer
        self.port = free_port()
        self.replies: list[Reply] = []  # one per request, in order; then `default`
        self.default = Reply()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._served: Served | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply | str) -> None:
        """The next requests' replies: a `Reply`, or a fault's name."""
        self.replies.extend(r if isinstance(r, Reply) else Reply(fault=r) for r in replies)

    def __enter__(self) -> FakeLlm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/{path:path}", self._unknown, methods=["GET", "POST"]),
            ]
        )
        self._served = Served(app, self.port, "fake LLM")
        self._served.start()

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
        self._served = None

    # -- routes ---------------------------------------------------------------------------

    async def _unknown(self, request: Request) -> Response:
        message = f"Invalid URL ({request.method} {request.url.path})"
        return JSONResponse(error_body(message, "invalid_request_error", None), status_code=404)

    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen = Seen(request.url.path, headers, body if isinstance(body, dict) else {})
        with self._lock:
            self.seen.append(seen)
            reply = self.replies.pop(0) if self.replies else self.default
        fault = reply.fault
        if self.key is not None and (
            fault == "401" or headers.get("authorization") != f"Bearer {self.key}"
        ):
            message = f"Incorrect API key provided: {self.key}. You can find your API key at ..."
            body_401 = error_body(message, "invalid_request_error", "invalid_api_key")
            return JSONResponse(body_401, status_code=401)
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            return JSONResponse(error_body(message, "invalid_request_error", None), 400)
        if fault == "404" or body.get("model") != self.model:
            message = f"The model `{body.get('model')}` does not exist or you do not have access."
            return JSONResponse(
                error_body(message, "invalid_request_error", "model_not_found"), status_code=404
            )
        if fault == "timeout":
            await anyio.sleep(self.slow_s)
        if fault == "500":
            message = "The server had an error while processing your request. Sorry about that!"
            return JSONResponse(error_body(message, "server_error", None), status_code=500)
        if fault == "503":
            message = "The engine is currently overloaded, please try again later."
            return JSONResponse(error_body(message, "server_error", None), status_code=503)
        if fault == "429":
            message = "Rate limit reached for requests. Please try again in 1s."
            return JSONResponse(
                error_body(message, "requests", "rate_limit_exceeded"),
                status_code=429,
                headers={"Retry-After": "1"},
            )
        if fault == "garbage":
            return Response(
                "<html><body>502 Bad Gateway</body></html>", 200, media_type="text/html"
            )
        return JSONResponse(self._completion(seen, reply))

    def _completion(self, seen: Seen, reply: Reply) -> Json:
        content: Any = reply.content if reply.content is not None else self.answer(seen)
        fault = reply.fault
        if fault == "over_length":
            content += " The scene goes on and on." * 80
        elif fault == "adds_camera":
            content += " The camera slowly orbits around the subject."
        elif fault == "think":
            content = f"<think>The user wants motion. I should keep their words.</think>\n{content}"
        elif fault == "huge":
            content = "word " * 400_000
        elif fault == "parts":
            content = [{"type": "text", "text": content}]
        message: Json = {"role": "assistant", "content": content, "refusal": None}
        if fault == "refusal":
            message.update(content=None, refusal="I'm sorry, I can't help with that.")
        completion: Json = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "length" if fault == "length" else "stop",
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90},
        }
        if fault == "no_choices":
            del completion["choices"]
        return completion
