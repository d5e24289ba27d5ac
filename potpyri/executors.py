"""Run a function over independent tasks: in this process, or in a pool of processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["ProcessExecutor", "SerialExecutor", "make_executor"]


class SerialExecutor:
    """Tasks one after the other, in order."""

    workers = 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order."""
        for item in items:
            yield fn(item)


class ProcessExecutor:
    """Tasks in a pool of worker processes; results come back in task order."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order, computed in worker processes."""
        items = list(items)
        if len(items) <= 1 or self.workers == 1:
            yield from SerialExecutor().map(fn, items)
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=context) as pool:
            yield from pool.map(fn, items)


def make_executor(config: Any) -> SerialExecutor | ProcessExecutor:
    """The executor an ``executor`` config node asks for."""
    kind = getattr(config.kind, "value", config.kind)
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(int(config.workers))
    raise ValueError(f"executor.kind={kind!r} is not known (serial, processes)")
