"""Gateway cache coherence: "revocation takes effect on the next call".

Every committed change to a grant, an interface or an API key bumps a process-local
generation *after* the commit (the gateway rebuilds its snapshot on the next call) and,
in the same transaction, the row ``share_gateway_state.generation`` that other processes
poll. The hooks are registered when the sharing models are imported
(``gongshu.sharing.models`` imports this module), which every process opening a
control-plane session does (``gongshu.db`` loads all domains' models): a key created
by ``gongshu keys create`` in a shell reaches a running gateway within its poll interval.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from gongshu.auth.models import ApiKey
from gongshu.sharing.models import GatewayState, Grant, Interface

_generation = 0
_TRACKED = (Grant, Interface, ApiKey)
_KEY_FIELDS = ("revoked_at", "expires_at", "org_id", "system_id", "role", "key_hash")


def generation() -> int:
    return _generation


def touch() -> None:
    """Invalidate this process's gateway snapshot (the next call rebuilds it)."""
    global _generation
    _generation += 1


def _relevant(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, _TRACKED):
            return True
    for obj in session.dirty:
        if isinstance(obj, Grant | Interface):
            return True
        if isinstance(obj, ApiKey):
            state = inspect(obj)
            if any(state.attrs[f].history.has_changes() for f in _KEY_FIELDS):
                return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    if session.info.get("gw_bumped") or not _relevant(session):
        return
    session.info["gw_bumped"] = True
    # Same transaction as the change: other processes see both or neither.
    session.execute(
        update(GatewayState)
        .where(GatewayState.id == 1)
        .values(generation=GatewayState.generation + 1)
    )


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("gw_bumped", False):
        touch()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("gw_bumped", None)
