"""Hook: who consumes a resource ("谁在用"), filled in by the sharing domain.

The catalog does not know about grants. A domain that does registers a provider in the
entry-point group ``gongshu.catalog_consumers``::

    [project.entry-points."gongshu.catalog_consumers"]
    sharing = "gongshu.sharing.catalog_hook:consumers"

``consumers(session, resource_id) -> list[Consumer]``. Until one is registered the
resource page shows an empty section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gongshu.plugins import Registry


@dataclass(frozen=True)
class Consumer:
    org_id: int | None
    name: str  # consuming org or system, in Chinese
    kind: str  # e.g. 共享授权 / 开放数据集 / 授权运营
    since: datetime | None = None
    url: str | None = None


providers: Registry[Callable[[Session, int], list[Consumer]]] = Registry("catalog_consumers")


def consumers_of(session: Session, resource_id: int) -> list[Consumer]:
    out: list[Consumer] = []
    for _name, provider in providers.items():
        out.extend(provider(session, resource_id))
    return out
