"""The load's producer thread: errors reach the consumer; closing stops the producer."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from gongshu.ingest.pipeline import prefetch


def _alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ingest-prefetch" and t.is_alive()]


def test_items_arrive_in_order_and_the_producer_ends() -> None:
    assert list(prefetch(iter(range(100)))) == list(range(100))
    assert not _alive()


def test_the_producers_exception_is_raised_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ConnectionError("源库断开")

    it = prefetch(items())
    assert next(it) == 1
    with pytest.raises(ConnectionError, match="源库断开"):
        next(it)
    assert not _alive()


def test_closing_stops_the_producer_and_closes_its_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            closed.set()

    it = prefetch(endless())
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # what run_load does when the warehouse insert fails
    assert closed.is_set()
    assert not _alive()
