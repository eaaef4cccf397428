"""Catalog releases (目录版本): freeze the published catalog as an edition and compare two.

A release stores each published resource's snapshot of its current revision, so an
edition stays exactly what it was when frozen, whatever happens to the live catalog.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.catalog.models import (
    CatalogRelease,
    CatalogReleaseEntry,
    Resource,
    ResourceSnapshot,
)
from gongshu.catalog.schemas import ReleaseCreate
from gongshu.catalog.service import diff, ensure_catalog_reader, fingerprint, org_names
from gongshu.catalog.vocab import Status
from gongshu.errors import Conflict, NotFound

STAT_KEYS = {
    "by_org": "owner_org",
    "by_domain": "domain",
    "by_share_type": "share_type",
    "by_open_type": "open_type",
    "by_grade": "grade",
    "by_update_cycle": "update_cycle",
}


def create_release(session: Session, actor: Principal, data: ReleaseCreate) -> CatalogRelease:
    actor.ensure_role(Role.admin)
    if session.scalar(select(CatalogRelease.id).where(CatalogRelease.name == data.name)):
        raise Conflict(f"目录版本“{data.name}”已存在", code="duplicate_release", field="name")
    rows = session.execute(
        select(
            Resource.id,
            Resource.code,
            Resource.owner_org_id,
            Resource.revision,
            ResourceSnapshot.data,
        )
        .join(
            ResourceSnapshot,
            and_(
                ResourceSnapshot.resource_id == Resource.id,
                ResourceSnapshot.revision == Resource.revision,
            ),
        )
        .where(Resource.status == Status.published)
        .order_by(Resource.code)
    ).all()
    if not rows:
        raise Conflict("目录中还没有已发布的资源，不能生成版本", code="empty_catalog")
    names = org_names(session)
    counters: dict[str, Counter[str]] = {k: Counter() for k in STAT_KEYS}
    items = 0
    for _id, _code, org_id, _rev, snap in rows:
        items += len(snap.get("items") or [])
        for key, attr in STAT_KEYS.items():
            value = names.get(org_id, str(org_id)) if attr == "owner_org" else snap.get(attr)
            counters[key][str(value)] += 1
    stats = {k: dict(c.most_common()) for k, c in counters.items()}
    release = CatalogRelease(
        name=data.name,
        note=data.note,
        resource_count=len(rows),
        item_count=items,
        stats=stats,
        created_by=actor.name,
    )
    session.add(release)
    session.flush()
    entries = [
        {
            "release_id": release.id,
            "resource_id": rid,
            "code": code,
            "name": snap["name"],
            "owner_org_id": org_id,
            "revision": rev,
            "fingerprint": fingerprint(snap),
            "data": snap,
        }
        for rid, code, org_id, rev, snap in rows
    ]
    for start in range(0, len(entries), 1000):
        session.execute(insert(CatalogReleaseEntry), entries[start : start + 1000])
    audit.record(
        session,
        actor,
        "catalog.release",
        "catalog_release",
        release.id,
        detail={"name": release.name, "resources": len(rows), "items": items},
    )
    session.commit()
    return release


def list_releases(session: Session, actor: Principal) -> list[CatalogRelease]:
    ensure_catalog_reader(actor)
    return list(session.scalars(select(CatalogRelease).order_by(CatalogRelease.id.desc())))


def get_release(session: Session, actor: Principal, release_id: int) -> CatalogRelease:
    """Releases hold only published entries, readable by every catalog reader (目录公开)."""
    ensure_catalog_reader(actor)
    release = session.get(CatalogRelease, release_id)
    if release is None:
        raise NotFound("目录版本不存在")
    return release


def release_entries(
    session: Session, actor: Principal, release_id: int, *, org_id: int | None = None
) -> list[CatalogReleaseEntry]:
    release = get_release(session, actor, release_id)
    stmt = select(CatalogReleaseEntry).where(CatalogReleaseEntry.release_id == release.id)
    if org_id is not None:
        stmt = stmt.where(CatalogReleaseEntry.owner_org_id == org_id)
    return list(session.scalars(stmt.order_by(CatalogReleaseEntry.code)))


@dataclass
class ReleaseComparison:
    old: CatalogRelease
    new: CatalogRelease
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0


def compare_releases(
    session: Session, actor: Principal, old_id: int, new_id: int
) -> ReleaseComparison:
    """Added / removed / changed resources between two editions (matched by code)."""
    old = get_release(session, actor, old_id)
    new = get_release(session, actor, new_id)

    def load(rid: int) -> dict[str, tuple[str, int, str, int]]:
        return {
            code: (name, org, fp, eid)
            for code, name, org, fp, eid in session.execute(
                select(
                    CatalogReleaseEntry.code,
                    CatalogReleaseEntry.name,
                    CatalogReleaseEntry.owner_org_id,
                    CatalogReleaseEntry.fingerprint,
                    CatalogReleaseEntry.id,
                ).where(CatalogReleaseEntry.release_id == rid)
            )
        }

    a, b = load(old.id), load(new.id)
    out = ReleaseComparison(old=old, new=new)
    for code in sorted(b.keys() - a.keys()):
        out.added.append({"code": code, "name": b[code][0], "owner_org_id": b[code][1]})
    for code in sorted(a.keys() - b.keys()):
        out.removed.append({"code": code, "name": a[code][0], "owner_org_id": a[code][1]})
    changed_codes = sorted(c for c in a.keys() & b.keys() if a[c][2] != b[c][2])
    out.unchanged = len(a.keys() & b.keys()) - len(changed_codes)
    ids = [a[c][3] for c in changed_codes] + [b[c][3] for c in changed_codes]
    data: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        data |= dict(
            session.execute(
                select(CatalogReleaseEntry.id, CatalogReleaseEntry.data).where(
                    CatalogReleaseEntry.id.in_(ids[start : start + 900])
                )
            ).all()
        )
    for code in changed_codes:
        out.changed.append(
            {
                "code": code,
                "name": b[code][0],
                "owner_org_id": b[code][1],
                "diff": diff(data[a[code][3]], data[b[code][3]]),
            }
        )
    return out
