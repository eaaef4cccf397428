"""The process's warehouse for open-data reads: ``gongshu.warehouse.shared``.

``warehouse(url)`` is the process-wide warehouse every domain shares (the server owns the
DuckDB file); the app releases it after every domain's shutdown hook has run.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gongshu.warehouse import Warehouse, release_shared, shared


def warehouse(url: str) -> Warehouse:
    return shared(url)


def close(url: str) -> None:
    release_shared(url)


def request_warehouse(request: Request) -> Warehouse:
    return warehouse(request.app.state.settings.warehouse_url)


WarehouseDep = Annotated[Warehouse, Depends(request_warehouse)]
