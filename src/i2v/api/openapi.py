"""The OpenAPI document as the API really answers: problem+json errors, bodies and media types.

Routes declare what only they return (`problems(404, 409)`, their bodies and media types);
what every route shares is added here once: the gate's 401 on each /v1 operation and its 413
on each operation with a body, and FastAPI's 422 rewritten to the problem+json it really is.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from i2v.api.gate import API_PREFIX
from i2v.api.problems import PROBLEM_JSON
from i2v.api.submission import request_body_schema
from i2v.config import Settings

Responses = dict[int | str, dict[str, Any]]
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class Problem(BaseModel):
    """An RFC 9457 problem, as every error is answered."""

    type: str = Field(description="https://i2v.dev/problems/<code>")
    title: str
    status: int
    code: str = Field(description="Stable and machine-readable, e.g. not_found.")
    detail: str
    field: str | None = Field(default=None, description="The parameter at fault, where one is.")


def problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF)}}


def problems(*statuses: int) -> Responses:
    """`responses=` entries for statuses a route answers with a problem."""
    return {
        status: {"description": HTTPStatus(status).phrase, "content": problem_content()}
        for status in statuses
    }


def binary(*media_types: str) -> dict[str, Any]:
    return {kind: {"schema": {"type": "string", "format": "binary"}} for kind in media_types}


def install(api: FastAPI, settings: Settings, *, metrics_open: bool) -> None:
    """Serve the corrected document; `metrics_open`: /metrics takes no token here."""

    def document() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = get_openapi(
                title=api.title, version=api.version, description=api.description, routes=api.routes
            )
            _correct(doc, metrics_open=metrics_open)
            submit = doc["paths"]["/v1/jobs"]["post"]
            submit["requestBody"] = request_body_schema(settings)
            api.openapi_schema = doc
        return api.openapi_schema

    api.openapi = document  # type: ignore[method-assign]


def _correct(doc: dict[str, Any], *, metrics_open: bool) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            if "422" in responses:
                responses["422"]["content"] = problem_content()
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                responses.setdefault("401", problems(401)[401])
            if "requestBody" in operation:
                responses.setdefault("413", problems(413)[413])
    if metrics_open:
        doc["paths"]["/metrics"]["get"].pop("security", None)
