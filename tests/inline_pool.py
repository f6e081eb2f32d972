"""A stand-in for ProcessPoolExecutor: records its size and runs each piece at once.

Tests see the pool size asked for and the pieces handed over exactly as to
worker processes (``scan_piece(piece, IMAGES)``), deterministically and
without starting processes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar


class InlinePool:
    sizes: ClassVar[list[int]] = []

    def __init__(
        self, max_workers: int, mp_context: object = None, initializer: object = None
    ) -> None:
        self.sizes.append(max_workers)

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(function(*args))
        return future

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass
