"""fal's error answers map to typed errors through one table; their API statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v import errors
from i2v.api.problems import status_for
from i2v.backends.fal.errors import Failure, error_for, issues_of
from i2v.backends.fal.values import progress_from_logs

DATA = Path(__file__).parents[1] / "data" / "fal"


def documented(name: str) -> object:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["detail"]


def failure(status: int | None, **extra: object) -> Failure:
    return Failure(url="https://queue.fal.run/fal-ai/wan", status=status, message="m", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "kind", "retryable"),
    [
        (
            failure(422, issues=issues_of(documented("error_content_policy"))),
            errors.ContentRefused,
            False,
        ),
        (
            failure(422, issues=issues_of(documented("error_validation"))),
            errors.InvalidParameter,
            False,
        ),
        (failure(504, user_timeout=True, error_type="request_timeout"), errors.StartTimeout, False),
        (failure(504, error_type="startup_timeout"), errors.HostedUnavailable, True),
        (failure(503, error_type="runner_scheduling_failure"), errors.HostedUnavailable, True),
        (failure(None, error_type="request_timeout"), errors.HostedUnavailable, True),
        (failure(429), errors.HostedUnavailable, True),
        (failure(502), errors.HostedUnavailable, True),
        (failure(500, retryable_header=True), errors.HostedUnavailable, True),
        (failure(500), errors.BackendError, False),
        (failure(400), errors.BackendError, False),
        (failure(401), errors.ConfigError, False),
        (failure(403), errors.ConfigError, False),
        (failure(404), errors.HostedGone, False),
    ],
)
def test_the_table(given: Failure, kind: type[errors.I2VError], retryable: bool) -> None:
    error = error_for(given)
    assert type(error) is kind
    assert error.retryable is retryable


def test_a_refusal_names_the_input_and_its_categories() -> None:
    error = error_for(failure(422, issues=issues_of(documented("error_content_policy"))))
    assert isinstance(error, errors.ContentRefused)
    assert (error.field, error.categories) == ("image_url", ("violence",))


def test_a_validation_detail_names_the_field_and_value() -> None:
    error = error_for(failure(422, issues=issues_of(documented("error_validation"))))
    assert isinstance(error, errors.InvalidParameter)
    assert (error.field, error.value) == ("num_frames", 400)
    assert "less than or equal to 161" in error.message


def test_api_statuses() -> None:
    where = {"backend": "fal"}
    assert status_for(errors.ContentRefused("no", field="prompt", **where)) == 422
    assert status_for(errors.StartTimeout("late", timeout_s=30, **where)) == 504
    assert status_for(errors.RunTimedOut("late", timeout_s=30, **where)) == 504
    assert status_for(errors.HostedUnavailable("busy", **where)) == 503
    assert status_for(errors.HostedGone("gone", url="u", **where)) == 502
    assert status_for(errors.OutputTooLarge("big", url="u", limit=1, **where)) == 502


@pytest.mark.parametrize(
    ("logs", "fraction"),
    [
        ((), None),
        (("loading model",), None),
        (("step 3/4",), 0.75),
        ((" 45%|####      | 9/20 [00:05<00:06]",), 0.45),
        (("step 1/4", "saving"), 0.25),
        (("0/0",), None),
    ],
)
def test_progress_from_logs(logs: tuple[str, ...], fraction: float | None) -> None:
    assert progress_from_logs(logs) == fraction
