"""示例市: quality rules for the demo resources, before ingest loads them.

Runs before the ingest demo (``demo_order`` 35 < 40): every published resource gets the
rules suggested from its data elements and key flags, confirmed by its department's
officer, plus two cross-resource rules on 社会保险参保信息 (关联性: the insured person
exists in 人口基本信息; 一致性/一数一源: the same person's name agrees). All demo rules
warn, except the ID-number rule which blocks above a 5 % failure rate, so the demo loads
publish and their gate runs record scores and open problems.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from gongshu.auth.models import User
from gongshu.auth.principal import Principal
from gongshu.demo import DemoContext
from gongshu.ingest import catalog_port
from gongshu.quality import gate, service
from gongshu.quality.models import Rule
from gongshu.quality.schemas import RuleIn

PERSON = "人口基本信息"
INSURED = "社会保险参保信息"


def _officer(ctx: DemoContext, org_id: int) -> Principal:
    user = ctx.session.scalar(
        select(User).where(User.org_id == org_id, User.role == "officer").order_by(User.id)
    )
    if user is None:
        return Principal.system("demo")
    return Principal(kind="user", id=user.id, name=user.username, role="officer", org_id=org_id)


def build(ctx: DemoContext) -> None:
    # Let ingest's gate record the demo loads' runs in this database.
    gate.bind(ctx.settings.warehouse_url, sessionmaker(bind=ctx.session.get_bind()))
    specs = {s.name: s for s in catalog_port.published(ctx.session)}
    count = 0
    for spec in specs.values():
        actor = _officer(ctx, spec.owner_org_id)
        for rule in service.suggest_rules(ctx.session, actor, spec.id, None):
            rule.status, rule.confirmed_by = "active", actor.name
            rule.severity = "warning"
            if rule.kind == "ric":
                rule.severity, rule.threshold = "blocking", 0.05
            if rule.kind == "freshness":  # the demo history is one load old at most
                rule.status = "suggested"
            count += 1
        ctx.session.commit()
    person, insured = specs.get(PERSON), specs.get(INSURED)
    if person and insured:
        actor = _officer(ctx, insured.owner_org_id)
        for kind, params in (
            ("referential", {"resource": person.code, "column": "gmsfhm"}),
            (
                "cross_source",
                {
                    "resource": person.code,
                    "column": "gmsfhm",
                    "value_column": "xm",
                    "other_value_column": "xm",
                },
            ),
        ):
            service.create_rule(
                ctx.session,
                actor,
                RuleIn(resource_id=insured.id, column="gmsfhm", kind=kind, params=params),
                commit=False,
            )
            count += 1
        ctx.session.commit()
    active = ctx.session.scalar(select(Rule.id).where(Rule.status == "active").limit(1))
    ctx.console.print(f"  质量规则：{count} 条（{'已启用' if active else '无'}）")
