"""Every rule the catalog enforces, through the real service."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.catalog import service
from gongshu.catalog.models import Resource
from gongshu.errors import ValidationFailed
from tests.catalog.helpers import ADMIN, PERSON_ITEMS, make_resource, officer, resource_data
from tests.factories import make_org


@pytest.fixture
def org(session: Session) -> Any:
    return make_org(session, "GAJ", name="示例市公安局", short_name="市公安局")


def _fails(session: Session, org: Any, message: str, **over: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make_resource(session, org, **over)
    assert message in exc.value.message, exc.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Resource)) == 0


def test_valid_resource_is_accepted(session: Session, org: Any) -> None:
    res = make_resource(session, org)
    assert res.status == "draft" and res.code == "JC-GAJ-000001"


def test_conditional_share_needs_condition(session: Session, org: Any) -> None:
    _fails(session, org, "必须填写共享条件", share_condition=None)


def test_no_share_needs_legal_basis(session: Session, org: Any) -> None:
    _fails(session, org, "法律法规或政策依据", share_type="不予共享", share_methods=[])
    res = make_resource(
        session, org, share_type="不予共享", share_basis="《个人信息保护法》", share_methods=[]
    )
    assert res.share_basis


@pytest.mark.parametrize("open_type", ["受限开放", "不予开放"])
def test_restricted_or_closed_needs_reason(session: Session, org: Any, open_type: str) -> None:
    _fails(session, org, f"{open_type}的资源必须填写", open_type=open_type, open_reason=None)


@pytest.mark.parametrize("open_type", ["无条件开放", "受限开放"])
def test_l4_is_never_opened(session: Session, org: Any, open_type: str) -> None:
    _fails(session, org, "L4（敏感）级资源只能“不予开放”", grade="L4", open_type=open_type)


def test_l2_l3_not_unconditionally_open(session: Session, org: Any) -> None:
    _fails(
        session, org, "L3 级资源只能受限开放或不予开放", open_type="无条件开放", open_reason=None
    )


def test_unmasked_sensitive_item_blocks_unconditional_open(session: Session, org: Any) -> None:
    items = [
        {"name": "手机号码", "column": "sjhm", "length": 11, "is_sensitive": True},
        {"name": "站点", "column": "zd", "length": 20},
    ]
    common = {"grade": "L1", "open_type": "无条件开放", "open_reason": None}
    _fails(session, org, "敏感数据项“手机号码”未设置脱敏规则", items=items, **common)
    items[0]["masking"] = "phone"
    assert make_resource(session, org, items=items, **common).open_type == "无条件开放"


def test_name_convention(session: Session, org: Any) -> None:
    _fails(session, org, "不应以部门名称“市公安局”开头", name="市公安局人口信息")
    _fails(session, org, "不应以部门名称“示例市公安局”开头", name="示例市公安局人口信息")
    _fails(session, org, "不能超过 50 个字符", name="人" * 51)
    _fails(session, org, "只能包含中文、字母、数字", name="人口<script>")
    _fails(session, org, "摘要不能超过 256", summary="长" * 257)
    # Full-width letters and digits are normalised, spaces collapsed.
    res = make_resource(session, org, name="  人口 　基本信息ＡＢ１ ")
    assert res.name == "人口 基本信息AB1"


def test_name_pattern_is_configurable(
    session: Session, org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongshu.catalog import vocab

    monkeypatch.setenv("GONGSHU_CATALOG_NAME_PATTERN", r"^[\u4e00-\u9fa5]+$")
    monkeypatch.setenv("GONGSHU_CATALOG_NAME_MAX", "8")
    vocab.catalog_settings.cache_clear()
    try:
        _fails(session, org, "只能包含中文", name="人口信息V2")
        _fails(session, org, "不能超过 8 个字符", name="人口基本信息登记汇总")
    finally:
        vocab.catalog_settings.cache_clear()


def test_domain_must_be_configured(session: Session, org: Any) -> None:
    _fails(session, org, "不在领域列表中", domain="火星探索")


def test_item_rules(session: Session, org: Any) -> None:
    bad_col = [{"name": "甲", "column": "1abc", "length": 5}]
    _fails(session, org, "应以小写字母开头", items=bad_col)
    _fails(session, org, "是 SQL 保留字", items=[{"name": "甲", "column": "select", "length": 5}])
    dup = [{"name": "甲", "column": "a", "length": 5}, {"name": "乙", "column": "a", "length": 5}]
    _fails(session, org, "与第 1 个数据项重复", items=dup)
    _fails(session, org, "必须填写长度", items=[{"name": "甲", "column": "a"}])
    _fails(
        session,
        org,
        "脱敏规则“rot13”不存在",
        items=[
            {"name": "甲", "column": "a", "length": 5, "is_sensitive": True, "masking": "rot13"}
        ],
    )


def test_duplicate_name_in_org(session: Session, org: Any) -> None:
    make_resource(session, org)
    with pytest.raises(ValidationFailed, match="本部门已有同名资源"):
        make_resource(session, org)


def test_codes_are_generated_per_class_and_org_and_never_reused(session: Session, org: Any) -> None:
    other = make_org(session, "SCJGJ", name="示例市市场监督管理局")
    a = make_resource(session, org, name="甲资源")
    b = make_resource(session, org, name="乙资源", classification="部门")
    c = make_resource(session, other, name="法人信息")
    d = make_resource(session, org, name="丙资源")
    assert (a.code, b.code, c.code, d.code) == (
        "JC-GAJ-000001",
        "BM-GAJ-000001",
        "JC-SCJGJ-000001",
        "JC-GAJ-000002",
    )
    service.delete_resource(session, officer(org), d.id)
    e = make_resource(session, org, name="丁资源")
    assert e.code == "JC-GAJ-000003"  # 000002 is burnt, not reused


def test_submit_needs_items_and_summary(session: Session, org: Any) -> None:
    res = make_resource(session, org, items=[], summary="")
    with pytest.raises(ValidationFailed) as exc:
        service.submit_resource(session, officer(org), res.id)
    assert "至少登记一个数据项" in exc.value.message and "资源摘要" in exc.value.message
    assert exc.value.extra["problems"]


def test_related_codes_must_exist(session: Session, org: Any) -> None:
    _fails(session, org, "关联资源 JC-GAJ-999999 不存在", related_codes=["JC-GAJ-999999"])
    a = make_resource(session, org, name="甲资源")
    b = make_resource(session, org, name="乙资源", related_codes=[a.code])
    assert service.resource_spec(session, b.id).related_codes == (a.code,)


def test_classification_fixed_after_creation(session: Session, org: Any) -> None:
    res = make_resource(session, org)
    data = resource_data(classification="主题", items=PERSON_ITEMS)
    with pytest.raises(ValidationFailed, match="资源分类决定资源代码"):
        service.update_resource(session, ADMIN, res.id, data)
