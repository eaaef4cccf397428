"""One warehouse per process for open-data reads (the server owns the DuckDB file).

``warehouse(url)`` opens the warehouse at ``url`` once and hands the same object to every
caller; ``close_for_app`` closes it when the app shuts down. (Ingest may grow a shared
accessor; this one is deliberately tiny so it can be swapped for it.)
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, Request

from gongshu.warehouse import Warehouse, connect

_open: dict[str, Warehouse] = {}
_lock = threading.Lock()


def warehouse(url: str) -> Warehouse:
    wh = _open.get(url)
    if wh is None:
        with _lock:
            wh = _open.get(url)
            if wh is None:
                wh = connect(url)
                _open[url] = wh
    return wh


def close(url: str) -> None:
    with _lock:
        wh = _open.pop(url, None)
    if wh is not None:
        wh.close()


async def close_for_app(app: Any) -> None:
    close(app.state.settings.warehouse_url)


def request_warehouse(request: Request) -> Warehouse:
    return warehouse(request.app.state.settings.warehouse_url)


WarehouseDep = Annotated[Warehouse, Depends(request_warehouse)]
