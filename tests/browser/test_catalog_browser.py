"""Headless Chromium: an officer drafts and submits, the admin approves, search finds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_officer_drafts_admin_approves_search_finds(
    live_server: Any, page_factory: Any, artifacts_dir: Path
) -> None:
    base = live_server.url
    page, watch = page_factory()
    _login(page, base, "jtj_officer", "Officer@2026")
    page.goto(f"{base}/catalog/resources/new")
    page.fill("input[name=name]", "共享单车停放点信息")
    page.fill("textarea[name=summary]", "全市共享单车电子围栏停放点位置与容量")
    page.select_option("select[name=domain]", "交通运输")
    page.select_option("select[name=update_cycle]", "每日")
    page.select_option("select[name=grade]", "L1")
    page.select_option("select[name=share_type]", "无条件共享")
    page.select_option("select[name=open_type]", "受限开放")
    # Inline validation: the missing reason is reported before saving.
    page.wait_for_selector("#live-check [data-testid=problems]")
    page.wait_for_function(
        "document.querySelector('#live-check').innerText.includes('受限开放的资源必须填写')"
    )
    page.fill("input[name=open_reason]", "签订协议后向企业开放")
    page.fill("input[name='items-0-name']", "停放点编号")
    page.fill("input[name='items-0-column']", "tfdbh")
    page.fill("input[name='items-0-length']", "20")
    page.check("input[name='items-0-is_key']")
    page.click("#add-item")
    page.fill("input[name='items-1-name']", "停放点名称")
    page.fill("input[name='items-1-column']", "tfdmc")
    page.fill("input[name='items-1-length']", "100")
    page.click("#add-item")
    page.fill("input[name='items-2-name']", "容量")
    page.fill("input[name='items-2-column']", "rl")
    page.select_option("select[name='items-2-data_type']", "整数")
    page.wait_for_function("document.querySelector('#live-check').innerText.includes('校验通过')")
    page.screenshot(path=str(artifacts_dir / "catalog-form.png"), full_page=True)
    page.locator("textarea[name=summary]").focus()  # settle: no check left to trigger
    page.wait_for_timeout(600)
    page.wait_for_function("!document.querySelector('.htmx-request')")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{base}/catalog/resources/*")
    assert page.locator("[data-testid=status]").inner_text() == "草稿"
    assert page.locator("[data-testid=items] tbody tr").count() == 3
    page.get_by_role("button", name="提交审核").click()
    assert page.locator("[data-testid=status]").inner_text() == "待审核"
    detail_url = page.url
    watch.assert_clean()

    admin, watch2 = page_factory()
    _login(admin, base, "admin", "Admin@2026")
    admin.goto(f"{base}/catalog/review")
    admin.get_by_role("link", name="共享单车停放点信息").click()
    admin.wait_for_url(detail_url)
    admin.get_by_role("button", name="审核通过并发布").click()
    assert admin.locator("[data-testid=status]").inner_text() == "已发布"
    admin.screenshot(path=str(artifacts_dir / "catalog-detail.png"), full_page=True)
    admin.goto(f"{base}/catalog/releases")
    admin.get_by_role("link", name="2026版", exact=True).click()
    admin.wait_for_selector("[data-testid=chart-org] canvas")
    admin.screenshot(path=str(artifacts_dir / "catalog-release.png"), full_page=True)
    watch2.assert_clean()

    # Another department's officer finds it in the published catalog, by an item name too.
    other, watch3 = page_factory(width=390, height=844)
    _login(other, base, "gaj_officer", "Officer@2026")
    other.goto(f"{base}/catalog/resources")
    other.fill("input[name=q]", "共享单车停放点")
    other.get_by_role("button", name="搜索").click()
    assert other.get_by_role("link", name="共享单车停放点信息").is_visible()
    other.fill("input[name=q]", "停放点编号")
    other.get_by_role("button", name="搜索").click()
    assert other.locator(".hit mark").first.inner_text() == "停放点编号"
    other.screenshot(path=str(artifacts_dir / "catalog-search-mobile.png"), full_page=True)
    watch3.assert_clean()
