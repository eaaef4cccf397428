"""Hook point: "a load was published" (ingest → open data, and anyone else who cares).

Ingest calls :func:`notify` after every successful ``stage.publish(...)``, inside or after
its own transaction::

    from gongshu.opendata.hooks import LoadPublished, notify
    notify(session, LoadPublished(resource_id=res.id, table=name, load_id=load.id,
                                  rows=result.rows, mode="incremental"), warehouse=wh)

Listeners are plugins in the entry-point group ``gongshu.load_listeners`` with the
signature ``listener(session, event, warehouse) -> None``; open data registers
:func:`refresh_after_load`, which refreshes every published dataset built on the
resource (row count, data timestamp, search index) and re-checks the publication rules.
A failing listener is logged and never undoes the load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gongshu.plugins import Registry

log = logging.getLogger("gongshu.opendata")


@dataclass(frozen=True)
class LoadPublished:
    resource_id: int
    table: str
    load_id: int | None
    rows: int | None = None
    mode: str = "full"  # full | incremental


Listener = Callable[[Session, LoadPublished, Any], None]
listeners: Registry[Listener] = Registry("load_listeners")


def notify(session: Session, event: LoadPublished, *, warehouse: Any) -> None:
    for name, listener in listeners.items():
        try:
            listener(session, event, warehouse)
        except Exception:
            session.rollback()
            log.exception("load listener %s failed for resource %s", name, event.resource_id)


def refresh_after_load(session: Session, event: LoadPublished, warehouse: Any) -> None:
    from gongshu.opendata import service

    service.refresh_datasets(session, event.resource_id, warehouse, load_id=event.load_id)
