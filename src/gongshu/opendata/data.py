"""The warehouse of a request: the process-wide one every domain shares
(``gongshu.warehouse.shared``; the server owns the DuckDB file, and the app releases it
after every domain's shutdown hook has run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gongshu.warehouse import Warehouse, shared


def request_warehouse(request: Request) -> Warehouse:
    return shared(request.app.state.settings.warehouse_url)


WarehouseDep = Annotated[Warehouse, Depends(request_warehouse)]
