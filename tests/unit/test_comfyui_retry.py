"""The ComfyUI retry policy: a time budget for unreachable servers, attempts for the rest."""

from __future__ import annotations

import pytest

from i2v.backends.comfyui.retry import MAX_ATTEMPTS, Retries
from i2v.errors import (
    BackendProtocolError,
    ModelNotInstalled,
    OutOfMemory,
    ServerUnreachable,
    WorkflowInvalid,
)

WHERE = {"backend": "comfyui", "server": "http://gpu-1:8188"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def retries(budget: float = 60.0) -> tuple[Retries, Clock]:
    clock = Clock()
    return Retries(budget, clock), clock


def test_unreachable_is_retried_for_the_budget_with_capped_backoff() -> None:
    policy, clock = retries(budget=30)
    waits = []
    while (
        wait := policy.wait(ServerUnreachable("down", **WHERE), refused=False, elsewhere=False)
    ) is not None:
        waits.append(wait)
        clock.now += wait
    assert waits[:5] == [1, 2, 4, 5, 5]
    assert sum(waits) == pytest.approx(30)  # the last wait ends with the budget


def test_other_failures_get_a_bounded_number_of_attempts() -> None:
    policy, _ = retries()
    waits = [
        policy.wait(OutOfMemory("oom", **WHERE), refused=False, elsewhere=False)
        for _ in range(MAX_ATTEMPTS)
    ]
    assert waits == [1, 2, None]
    assert policy.wait(BackendProtocolError("junk", **WHERE), refused=False, elsewhere=True) is None


def test_a_refusal_is_retried_only_where_another_server_may_have_it() -> None:
    missing = ModelNotInstalled([("vae", "wan2.2_vae.safetensors")], **WHERE)
    assert retries()[0].wait(missing, refused=True, elsewhere=False) is None
    assert retries()[0].wait(missing, refused=True, elsewhere=True) == 1


def test_what_is_not_retryable_is_never_retried() -> None:
    policy, _ = retries()
    assert policy.wait(WorkflowInvalid("bad", **WHERE), refused=False, elsewhere=True) is None
    late = ServerUnreachable("missed its deadline", retryable=False, **WHERE)
    assert policy.wait(late, refused=False, elsewhere=True) is None
