"""`serve_all`: a background task that raises stops everything and the error reaches the
command (which prints it and exits 1), instead of a bare "Stopped."."""

from __future__ import annotations

import asyncio

import pytest

from ledgerbridge.serving import serve_all


async def test_a_background_task_that_raises_stops_everything_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def failing() -> None:
        await asyncio.sleep(0)
        raise OSError("database is locked")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with pytest.raises(RuntimeError, match="database is locked") as raised:
        await asyncio.wait_for(serve_all([], also=[failing, forever]), timeout=10)
    assert isinstance(raised.value.__cause__, OSError)
    assert cancelled.is_set()  # the others were stopped
    assert "a background task failed" in caplog.text


async def test_a_background_task_that_returns_stops_everything_quietly() -> None:
    async def done() -> None:
        await asyncio.sleep(0)

    async def forever() -> None:
        await asyncio.Event().wait()

    await asyncio.wait_for(serve_all([], also=[done, forever]), timeout=10)
