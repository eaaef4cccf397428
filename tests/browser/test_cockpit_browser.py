"""Headless Chromium at 1920×1080: the cockpit home screen, an alert, today's log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gongshu.cockpit.service import local_today

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]
CHARTS = ["c-line0", "c-line1", "c-map", "c-pie", "c-bar"]


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _series_sizes(page: Any, chart_id: str) -> list[int]:
    """Data points per series of one ECharts instance (0 for an empty chart)."""
    return page.evaluate(
        """(id) => {
            const c = echarts.getInstanceByDom(document.getElementById(id));
            if (!c) return [];
            return (c.getOption().series || []).map(s => (s.data || []).filter(
                v => v !== null && v !== undefined && !(typeof v === 'object' && v.value == null && !Array.isArray(v) && v.name === undefined)).length);
        }""",
        chart_id,
    )


def test_home_screen_alert_ack_and_daily_log(
    live_server: Any, page_factory: Any, artifacts_dir: Path
) -> None:
    page, watch = page_factory(1920, 1080)
    base = live_server.url
    _login(page, base, "leader", "Leader@2026")
    page.goto(f"{base}/cockpit/screen")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=kpi-card]').length >= 6"
        " && document.querySelectorAll('#bs-alerts li[data-alert]').length > 0"
    )
    page.wait_for_timeout(800)  # let the chart animations settle for the screenshot
    for chart_id in CHARTS:
        sizes = _series_sizes(page, chart_id)
        assert sizes and max(sizes) > 0, f"{chart_id} has no data: {sizes}"
    map_items = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('c-map')).getOption().series[0].data.length"
    )
    assert map_items == 6
    assert page.locator("text=暂无数据").count() == 0
    # The screen fills the 1920×1080 display without scrolling.
    assert page.evaluate("() => document.documentElement.scrollHeight") <= 1080
    page.screenshot(path=str(artifacts_dir / "cockpit-home-1920.png"))

    # Acknowledge an alert from the live list, without reloading the page.
    first = page.locator("#bs-alerts button[data-ack]").first
    alert_id = first.get_attribute("data-ack")
    first.click()
    page.wait_for_function(
        "(id) => !document.querySelector(`#bs-alerts button[data-ack='${id}']`)", arg=alert_id
    )
    page.goto(f"{base}/cockpit/alerts/{alert_id}")
    assert page.locator("[data-testid=alert-status]").inner_text() == "已确认"
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "cockpit-alert.png"), full_page=True)

    # Drill down from a KPI card to its indicator page.
    page.goto(f"{base}/cockpit/screen")
    page.locator("[data-testid=kpi-card]").first.click()
    page.wait_for_url(f"{base}/cockpit/indicators/**")
    page.wait_for_timeout(500)
    assert max(_series_sizes(page, "ck-history")) > 300
    page.screenshot(path=str(artifacts_dir / "cockpit-indicator.png"), full_page=True)

    # Today's report (the log of yesterday, written this morning).
    day = (local_today() - timedelta(days=1)).isoformat()
    page.goto(f"{base}/cockpit/reports")
    page.get_by_role("link", name="示例市城市运行日志（").first.click()
    page.wait_for_url(f"{base}/cockpit/reports/{day}")
    text = page.locator("[data-testid=report]").inner_text()
    assert "12345热线工单量出现异常" in text and "预警情况" in text
    page.screenshot(path=str(artifacts_dir / "cockpit-daily-log.png"), full_page=True)
    watch.assert_clean()


def test_topic_screens_render(live_server: Any, page_factory: Any, artifacts_dir: Path) -> None:
    page, watch = page_factory(1920, 1080)
    base = live_server.url
    _login(page, base, "admin", "Admin@2026")
    for topic in ("eco", "traffic"):
        page.goto(f"{base}/cockpit/screen?topic={topic}")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=kpi-card]').length >= 2"
        )
        page.wait_for_timeout(600)
        for chart_id in CHARTS:
            assert max(_series_sizes(page, chart_id) or [0]) > 0, f"{topic}: {chart_id} empty"
        page.screenshot(path=str(artifacts_dir / f"cockpit-{topic}-1920.png"))
    watch.assert_clean()
