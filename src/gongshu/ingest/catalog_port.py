"""The one place ingest reads the catalog: published resources as :class:`ResourceSpec`.

Uses only ``gongshu.catalog.service``'s interface for other domains (``get_spec``,
``resource_spec``, ``published_specs``), never catalog models.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.errors import ValidationFailed
from gongshu.ingest.spec import ItemSpec, ResourceSpec

PUBLISHED = "published"


def _convert(spec: Any) -> ResourceSpec:
    return ResourceSpec(
        id=spec.id,
        code=spec.code,
        name=spec.name,
        owner_org_id=spec.owner_org_id,
        update_cycle=spec.update_cycle,
        status=spec.status,
        published_at=spec.published_at,
        items=tuple(
            ItemSpec(
                column=i.column,
                name=i.name,
                data_type=i.data_type,
                length=i.length,
                is_key=i.is_key,
                is_sensitive=i.is_sensitive,
                data_element=i.data_element,
            )
            for i in spec.items
        ),
    )


def get_resource(session: Session, actor: Principal, resource_id: int) -> ResourceSpec:
    """A resource the actor may see (404 otherwise)."""
    return _convert(catalog.get_spec(session, actor, resource_id))


def resource(session: Session, resource_id: int) -> ResourceSpec:
    """Trusted read (callers have authorised already, e.g. a stored source)."""
    return _convert(catalog.resource_spec(session, resource_id))


def resource_by_code(session: Session, code: str) -> ResourceSpec:
    return _convert(catalog.resource_spec_by_code(session, code))


def require_published(spec: ResourceSpec) -> ResourceSpec:
    if spec.status != PUBLISHED:
        raise ValidationFailed(
            f"资源“{spec.name}”尚未发布，发布后才能归集", code="resource_not_published"
        )
    return spec


def published(session: Session, org_id: int | None = None) -> list[ResourceSpec]:
    return [_convert(s) for s in catalog.published_specs(session, org_id=org_id)]
