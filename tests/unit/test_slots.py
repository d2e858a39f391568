"""The worker's slots: a hard limit, hand-over from a render to its job, and stopping."""

from __future__ import annotations

import threading
import time

import pytest

from i2v.engine.slots import EngineStopping, WorkSlots


class Gone(Exception):
    pass


def nothing() -> None:
    pass


def wait_in_thread(slots: WorkSlots) -> tuple[threading.Thread, list[str]]:
    """Take a slot in a thread; the list records "waited", "held" and what was raised."""
    seen: list[str] = []

    def take() -> None:
        try:
            with slots.held(on_wait=lambda: seen.append("waited"), check=nothing):
                seen.append("held")
        except BaseException as exc:  # EngineStopping is one of the outcomes looked for
            seen.append(type(exc).__name__)

    thread = threading.Thread(target=take)
    thread.start()
    return thread, seen


def test_no_more_than_the_limit_hold_a_slot_at_once() -> None:
    slots = WorkSlots(2, check_s=0.01)
    with slots.held(on_wait=nothing, check=nothing), slots.held(on_wait=nothing, check=nothing):
        thread, seen = wait_in_thread(slots)
        time.sleep(0.1)
        assert seen == ["waited"]
    thread.join(timeout=5)
    assert seen == ["waited", "held"]


def test_a_waiter_gives_up_when_its_check_raises() -> None:
    slots = WorkSlots(1, check_s=0.01)

    def check() -> None:
        raise Gone

    with (
        slots.held(on_wait=nothing, check=nothing),
        pytest.raises(Gone),
        slots.held(on_wait=nothing, check=check),
    ):
        pytest.fail("given a slot that was taken")
    with slots.held(on_wait=nothing, check=check):
        pass  # the slot given up is free again


def test_a_handed_over_slot_goes_to_its_job_and_no_one_else() -> None:
    slots = WorkSlots(1, check_s=0.01)
    with slots.held(on_wait=nothing, check=nothing) as slot:
        slot.hand_over("job_a")
    other, seen = wait_in_thread(slots)
    time.sleep(0.1)
    assert seen == ["waited"]
    with slots.held(on_wait=lambda: pytest.fail("job_a waited"), check=nothing, job_id="job_a"):
        pass
    other.join(timeout=5)
    assert seen == ["waited", "held"]


def test_a_slot_handed_over_to_a_job_that_never_comes_is_freed() -> None:
    now = [0.0]
    slots = WorkSlots(1, check_s=0.01, hand_over_s=5.0, clock=lambda: now[0])
    with slots.held(on_wait=nothing, check=nothing) as slot:
        slot.hand_over("job_gone")
    thread, seen = wait_in_thread(slots)
    time.sleep(0.1)
    assert seen == ["waited"]
    now[0] = 5.0
    thread.join(timeout=5)
    assert seen == ["waited", "held"]


def test_stopping_wakes_waiters_and_hands_out_no_slot() -> None:
    slots = WorkSlots(1, check_s=0.01)
    with slots.held(on_wait=nothing, check=nothing):
        thread, seen = wait_in_thread(slots)
        time.sleep(0.1)
        slots.close()
        thread.join(timeout=5)
    assert seen == ["waited", "EngineStopping"]
    with pytest.raises(EngineStopping), slots.held(on_wait=nothing, check=nothing):
        pytest.fail("a slot was handed out after close")
