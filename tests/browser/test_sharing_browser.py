"""Headless Chromium: a consumer org files a demand, the owner approves it with masking,
the bureau confirms, the consumer's key calls the interface from the test console and
sees masked data, and the call shows up in the statistics page."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from gongshu.catalog import service as catalog
from gongshu.db import cli_session
from gongshu.warehouse import shared as shared_warehouse
from gongshu.warehouse import table_name_for

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _person(live_server: Any) -> tuple[int, dict[str, Any]]:
    with cli_session(live_server.settings.database_url) as s:
        spec = next(x for x in catalog.published_specs(s) if x.name == "人口基本信息")
    wh = shared_warehouse(live_server.settings.warehouse_url)
    t = wh.table(table_name_for(spec.code))
    row = wh.to_pyarrow(t.select("gmsfhm", "xm").limit(1)).to_pylist()[0]
    return spec.id, row


def test_demand_to_masked_call_to_statistics(
    live_server: Any, page_factory: Any, artifacts_dir: Path
) -> None:
    base = live_server.url
    resource_id, person = _person(live_server)

    # 1. The transport bureau (a consumer org) files a demand.
    page, watch = page_factory()
    _login(page, base, "jtj_officer", "Officer@2026")
    page.goto(f"{base}/sharing/demands/new?resource_id={resource_id}")
    for col in ("xb", "xzqh", "sjhm", "zz"):
        box = page.locator(f"input[name=item_{col}]")
        if box.count():
            box.uncheck()
    page.fill("input[name=purpose]", "网约车驾驶员身份核验")
    page.fill("input[name=basis]", "《网络预约出租汽车经营服务管理暂行办法》")
    page.fill("input[name=scenario]", "驾驶员从业资格审核")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r".*/sharing/demands/\d+$"))
    demand_url = page.url
    assert page.locator("[data-testid=demand-status]").inner_text() == "待部门审批"
    page.screenshot(path=str(artifacts_dir / "sharing-demand.png"), full_page=True)
    watch.assert_clean()

    # 2. The owner (public security) approves with masking on the name and the ID.
    owner, owner_watch = page_factory()
    _login(owner, base, "gaj_officer", "Officer@2026")
    owner.goto(demand_url)
    box = owner.locator("[data-testid=owner-decision]")
    box.locator("[data-testid=mask-xm]").select_option("name")
    box.locator("[data-testid=mask-gmsfhm]").select_option("id_number")
    owner.screenshot(path=str(artifacts_dir / "sharing-owner-approve.png"), full_page=True)
    box.get_by_role("button", name="同意共享").click()
    owner.wait_for_url(demand_url)
    assert owner.locator("[data-testid=demand-status]").inner_text() == "待数据局确认"
    owner_watch.assert_clean()

    # 3. The bureau confirms: the grant exists.
    admin, admin_watch = page_factory()
    _login(admin, base, "admin", "Admin@2026")
    admin.goto(demand_url)
    admin.locator("[data-testid=bureau-confirm]").get_by_role("button", name="确认授权").click()
    admin.wait_for_url(demand_url)
    assert admin.locator("[data-testid=demand-status]").inner_text() == "已授权"
    admin_watch.assert_clean()

    # 4. The consumer creates a key and calls the query interface from its console.
    page.goto(f"{base}/keys")
    page.fill("input[name=name]", "网约车监管系统")
    page.get_by_role("button", name="创建密钥").click()
    key = page.locator(".secret").inner_text()
    page.goto(f"{base}/sharing/interfaces")
    page.get_by_role("link", name="人口基本信息查询").click()
    console = page.locator("[data-testid=console]")
    console.locator("input[name=key]").fill(key)
    console.locator("input[name=gmsfhm]").fill(person["gmsfhm"])
    console.get_by_role("button", name="调用").click()
    result = page.locator("[data-testid=console-result]")
    page.wait_for_function(
        "document.querySelector('[data-testid=console-result]').textContent.startsWith('HTTP')"
    )
    text = result.inner_text()
    assert text.startswith("HTTP 200"), text
    masked_id = person["gmsfhm"][:6] + "********" + person["gmsfhm"][-4:]
    assert masked_id in text and person["gmsfhm"] not in text
    assert person["xm"][0] + "*" in text and person["xm"] not in text
    assert "sjhm" not in text
    page.screenshot(path=str(artifacts_dir / "sharing-console.png"), full_page=True)

    # 5. The call appears in the statistics page (the log is flushed within a second).
    deadline = time.monotonic() + 15
    while True:
        page.goto(f"{base}/sharing/stats")
        if page.get_by_text("示例市交通运输局").count():
            break
        assert time.monotonic() < deadline, "call did not reach the statistics"
        time.sleep(0.5)
    row = page.locator("tr", has_text="示例市交通运输局").first
    assert row.locator("td").nth(1).inner_text() == "1"
    page.screenshot(path=str(artifacts_dir / "sharing-stats.png"), full_page=True)
    watch.assert_clean()
