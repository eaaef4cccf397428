"""Headless Chromium: sign in as the demo admin and walk the shell."""

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


def test_admin_sees_shell_with_demo_orgs(
    live_server: Any, page_factory: Any, artifacts_dir: Path
) -> None:
    page, watch = page_factory()
    base = live_server.url
    page.goto(base + "/")
    assert page.url.startswith(f"{base}/login")
    page.screenshot(path=str(artifacts_dir / "shell-login.png"))
    _login(page, base, "admin", "Admin@2026")
    assert page.locator("h1").first.inner_text() == "工作台"
    assert page.get_by_text("示例市公安局").first.is_visible()
    assert page.locator("[data-testid=org-count]").inner_text() == "20"
    assert page.locator(".sidenav").get_by_text("部门/单位").is_visible()
    page.screenshot(path=str(artifacts_dir / "shell-home.png"), full_page=True)

    page.locator(".sidenav").get_by_text("信息系统").click()
    page.wait_for_url(f"{base}/systems")
    assert page.get_by_text("人口信息管理系统").is_visible()
    page.locator(".sidenav").get_by_text("部门/单位").click()
    page.fill("input[name=q]", "城东")
    page.click("form.filters button")
    page.get_by_role("link", name="示例市城东区人民政府").click()
    assert page.get_by_text("城东区基层治理四平台").is_visible()
    assert page.locator(".breadcrumbs").get_by_text("部门/单位").is_visible()

    page.goto(f"{base}/audit?verify=1")
    assert "审计链完整" in page.locator("[data-testid=verify-result]").inner_text()
    page.screenshot(path=str(artifacts_dir / "shell-audit.png"))
    watch.assert_clean()


def test_officer_creates_key_and_sees_it_once(
    live_server: Any, page_factory: Any, artifacts_dir: Path
) -> None:
    page, watch = page_factory(width=390, height=844)
    base = live_server.url
    _login(page, base, "gaj_officer", "Officer@2026")
    page.goto(f"{base}/keys")
    page.fill("input[name=name]", "治安系统调用")
    page.get_by_role("button", name="创建密钥").click()
    secret = page.locator(".secret").inner_text()
    assert secret.startswith("gs_")
    page.screenshot(path=str(artifacts_dir / "shell-key-mobile.png"), full_page=True)
    page.goto(f"{base}/keys")
    assert secret not in page.content()
    assert page.get_by_text("治安系统调用").is_visible()
    # The officer's org list holds only their own org.
    page.goto(f"{base}/orgs")
    assert page.locator("table tbody tr").count() == 1
    watch.assert_clean()
