"""Headless Chromium on the open-data portal, desktop and 390-px mobile: a citizen searches,
previews, filters and downloads; a developer registers, gets a key and calls the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]
VIEWPORTS = {"desktop": (1440, 900), "mobile": (390, 844)}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_citizen_searches_previews_filters_and_downloads(
    live_server: Any, page_factory: Any, artifacts_dir: Path, viewport: str
) -> None:
    page, watch = page_factory(*VIEWPORTS[viewport])
    base = live_server.url
    page.goto(f"{base}/open")
    assert int(page.locator("[data-testid=open-count]").inner_text()) >= 30
    page.screenshot(path=str(artifacts_dir / f"open-home-{viewport}.png"), full_page=True)
    page.fill("input[name=q]", "公交")
    page.locator("form.hero-search button[type=submit]").click()
    page.wait_for_url("**/open/search?**")
    assert "找到" in page.locator("[data-testid=result-count]").inner_text()
    page.screenshot(path=str(artifacts_dir / f"open-search-{viewport}.png"), full_page=True)
    page.get_by_role("link", name="公交线路信息", exact=True).click()
    page.wait_for_url("**/open/datasets/*")
    table = page.locator("[data-testid=preview-table]")
    table.wait_for()
    assert "1,200" in page.locator("[data-testid=preview-total]").inner_text()
    # Filter the preview: 线路名称 包含 "12" (htmx swaps the table in place).
    form = page.locator("[data-testid=preview-filter]")
    form.locator("select[name=col]").select_option("line_name")
    form.locator("select[name=op]").select_option("contains")
    form.locator("input[name=value]").fill("12")
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=preview-total]').innerText.indexOf('1,200') < 0"
    )
    rows = page.locator("[data-testid=preview-table] tbody tr")
    assert rows.count() > 0
    assert all("12" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert page.locator("[data-testid=quality-badge]").inner_text() in ("优", "良", "中", "差")
    page.locator("[data-testid=quick-chart] canvas").first.wait_for()
    page.screenshot(path=str(artifacts_dir / f"open-dataset-{viewport}.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("[data-testid=download-csv]").click()
    path = info.value.path()
    data = Path(path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"线路编号"') and len(lines) == 1201
    watch.assert_clean()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_developer_registers_gets_key_and_calls_api(
    live_server: Any, page_factory: Any, artifacts_dir: Path, viewport: str
) -> None:
    page, watch = page_factory(*VIEWPORTS[viewport])
    base = live_server.url
    page.goto(f"{base}/open/register")
    username = f"dev_{viewport}"
    page.fill("input[name=username]", username)
    page.fill("input[name=display_name]", "示例开发者")
    page.fill("input[name=password]", "Develop3r-2026")
    page.get_by_role("button", name="注册").click()
    page.wait_for_url(f"{base}/open/developer")
    page.fill("input[name=name]", "公交查询小程序")
    page.get_by_role("button", name="创建密钥").click()
    page.wait_for_url(f"{base}/open/developer")
    key = page.locator("[data-testid=new-key]").inner_text().strip()
    assert key.startswith("od_")
    page.screenshot(path=str(artifacts_dir / f"open-developer-{viewport}.png"), full_page=True)
    page.reload()
    assert page.locator("[data-testid=new-key]").count() == 0  # shown once
    api = page.request.get(
        f"{base}/api/v1/open/datasets/1/rows?limit=3&fields=line_id,line_name",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert api.status == 200
    body = api.json()
    assert len(body["records"]) == 3 and body["next_cursor"]
    ckan = page.request.get(f"{base}/api/3/action/package_search?q=公交&rows=1")
    assert ckan.json()["success"] is True
    watch.assert_clean()
