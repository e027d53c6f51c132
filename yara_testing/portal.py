"""A private event loop on a thread of its own, so synchronous pytest hooks and fixtures can
drive the engine whatever loop (or none) the tests use. The engine is bound to no loop, so
work started here and awaited there is fine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="yara-testing-portal", daemon=True
        )
        self.thread.start()

    def run(self, function: Callable[..., Awaitable[T]], *args: Any, timeout: float = 300) -> T:
        async def call() -> T:
            return await function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
