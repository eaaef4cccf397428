"""Fills the catalog's "who uses this resource" (谁在用) section from active grants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.catalog.consumers import Consumer
from gongshu.orgs.models import Org
from gongshu.sharing.models import Grant


def consumers(session: Session, resource_id: int) -> list[Consumer]:
    rows = session.execute(
        select(Grant.id, Grant.consumer_org_id, Org.name, Grant.created_at)
        .join(Org, Org.id == Grant.consumer_org_id)
        .where(Grant.resource_id == resource_id, Grant.status == "active")
        .order_by(Grant.id)
    ).all()
    return [
        Consumer(org_id=org_id, name=name, kind="共享授权", since=at, url=f"/sharing/grants/{gid}")
        for gid, org_id, name, at in rows
    ]
