from __future__ import annotations

import asyncio

import pytest

from ledgerbridge.transport.budget import RateBudget, Window

from .fakes import FakeTime, ten_second_budget


async def test_window_admits_up_to_its_limit_then_waits_for_the_oldest_to_age_out() -> None:
    time = FakeTime()
    budget = RateBudget([Window(3, 10.0, "ten_s")], clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(7):
        async with budget.slot():
            starts.append(time.now - 1000.0)
    assert starts == [0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 20.0]
    assert budget.used("ten_s") == 1


async def test_every_window_must_have_room() -> None:
    time = FakeTime()
    budget = RateBudget(
        [Window(5, 1.0, "second"), Window(8, 60.0, "minute")], clock=time.clock, sleep=time.sleep
    )
    starts = []
    for _ in range(9):
        async with budget.slot():
            starts.append(round(time.now - 1000.0, 6))
    # five in the first second, three more in the next, then the minute window is full
    assert starts == [0.0] * 5 + [1.0] * 3 + [60.0]


async def test_cost_spends_several_requests_at_once() -> None:
    time = FakeTime()
    budget = RateBudget([Window(10, 60.0, "minute")], clock=time.clock, sleep=time.sleep)
    async with budget.slot(cost=6):
        pass
    async with budget.slot(cost=6):
        pass
    assert time.now - 1000.0 == 60.0
    # a cost above the limit is clamped instead of waiting forever
    async with budget.slot(cost=50):
        pass
    assert budget.used("minute") == 10


async def test_zero_limit_is_off_and_no_windows_means_no_wait() -> None:
    time = FakeTime()
    budget = RateBudget([Window(0, 1.0, "off")], clock=time.clock, sleep=time.sleep)
    for _ in range(100):
        async with budget.slot():
            pass
    assert time.sleeps == []
    assert budget.windows == ()


async def test_concurrency_cap() -> None:
    time = FakeTime()
    budget = RateBudget(max_concurrency=3, clock=time.clock, sleep=time.sleep)
    in_flight = 0
    peak = 0

    async def work() -> None:
        nonlocal in_flight, peak
        async with budget.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            for _ in range(3):
                await asyncio.sleep(0)
            in_flight -= 1

    await asyncio.gather(*(work() for _ in range(20)))
    assert peak == 3


async def test_penalize_blocks_everyone_until_the_pause_is_over() -> None:
    time = FakeTime()
    budget = RateBudget([Window(100, 60.0, "minute")], clock=time.clock, sleep=time.sleep)
    budget.penalize(30.0)
    budget.penalize(5.0)  # a shorter pause never shortens a longer one
    async with budget.slot():
        assert time.now - 1000.0 == 30.0
    async with budget.slot():
        assert time.now - 1000.0 == 30.0
    assert budget.waited == 30.0


async def test_observe_as_of_the_send_counts_requests_aged_out_since_and_someone_else_s() -> None:
    time = FakeTime()
    budget = await ten_second_budget(time, answered=4)
    time.now += 9.5
    sent_at = budget.now()
    time.now += 1.0  # read 1 s after it was sent: our four have aged out since
    budget.observe(6, "ten_s", sent_at=sent_at)  # the service saw our 4 then: no one else's
    assert budget.used("ten_s") == 0
    budget.observe(4, "ten_s", sent_at=sent_at)  # it saw 6: two are someone else's
    assert budget.used("ten_s") == 2
    time.now += 60.0  # long aged out: as of a send that old, only what is counted now
    budget.observe(10, "ten_s", sent_at=sent_at)
    assert budget.used("ten_s") == 0


async def test_observe_tightens_from_a_remaining_header() -> None:
    time = FakeTime()
    budget = RateBudget([Window(10, 10.0, "ten_s")], clock=time.clock, sleep=time.sleep)
    async with budget.slot():
        pass
    budget.observe(2, "ten_s")  # the server says 2 left; we thought 9
    assert budget.used("ten_s") == 8
    budget.observe(5, "ten_s")  # never loosens
    budget.observe(None, "ten_s")
    budget.observe(0, "no-such-window")
    assert budget.used("ten_s") == 8
    for _ in range(2):
        async with budget.slot():
            pass
    assert time.sleeps == []
    async with budget.slot():
        pass
    assert time.now - 1000.0 == 10.0


async def test_waiters_are_served_in_arrival_order() -> None:
    time = FakeTime()
    budget = RateBudget([Window(1, 1.0, "second")], clock=time.clock, sleep=time.sleep)
    order: list[int] = []

    async def work(i: int) -> None:
        async with budget.slot():
            order.append(i)

    await asyncio.gather(*(work(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert time.now - 1000.0 == 4.0


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        Window(-1, 1.0, "x")
    with pytest.raises(ValueError):
        Window(1, 0.0, "x")
    with pytest.raises(ValueError):
        RateBudget([Window(1, 1.0, "x"), Window(2, 1.0, "x")])


async def test_negative_cost_is_refused() -> None:
    budget = RateBudget()
    with pytest.raises(ValueError):
        async with budget.slot(cost=-1):
            pass


async def test_room_is_what_every_window_still_admits_now() -> None:
    time = FakeTime()
    budget = RateBudget(
        [Window(5, 1.0, "second"), Window(8, 60.0, "minute")], clock=time.clock, sleep=time.sleep
    )
    assert budget.room() == 5
    async with budget.slot(cost=4):
        pass
    assert budget.room() == 1
    time.now += 1.0  # the second window empties; the minute has 4 of 8 left
    assert budget.room() == 4
    budget.penalize(2.0)
    assert budget.room() == 0  # paused after a 429
    time.now += 2.0
    assert budget.room() == 4
    assert RateBudget([], clock=time.clock, sleep=time.sleep).room() > 1000


async def test_an_until_answer_window_counts_a_request_from_its_answer() -> None:
    """The service counts a request when it arrives (after we sent it, before its answer
    came): an `until_answer` window counts it for the window's length from the answer, so
    a slow request keeps its place as long as the service does; a plain window counts it
    from the send."""
    time = FakeTime()
    answered = RateBudget([Window(2, 10.0, "w", until_answer=True)], clock=time.clock)
    sent = RateBudget([Window(2, 10.0, "w")], clock=time.clock)
    for budget in (answered, sent):
        time.now = 1000.0
        async with budget.slot():
            time.now += 3.0  # an answer that takes 3 s
        async with budget.slot():
            pass  # answered at once, at 1003
        assert budget.delay() == (10.0 if budget is answered else 7.0)
    # one that aged out while in flight (longer than the window) is counted again
    time.now = 2000.0
    async with answered.slot():
        time.now += 30.0
    assert answered.used("w") == 1
    assert answered.delay(2) == 10.0


async def test_until_answer_keeps_the_oldest_first_when_answers_come_out_of_order() -> None:
    time = FakeTime()
    budget = RateBudget([Window(3, 10.0, "w", until_answer=True)], clock=time.clock)
    first, second = budget.slot(), budget.slot()
    await first.__aenter__()
    await second.__aenter__()
    time.now += 1.0
    await second.__aexit__(None, None, None)  # the later one answers first, at 1001
    time.now += 1.0
    await first.__aexit__(None, None, None)  # at 1002
    async with budget.slot():
        pass  # the third, at 1002: the window is full
    assert budget.delay() == 9.0  # the oldest (answered at 1001) ages out at 1011
