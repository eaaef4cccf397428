"""Headless Chromium: upload a CSV for a resource, map columns, run, see counts and rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]

# Accepted rows carry valid ID numbers: the demo makes the ID rule a blocking gate.
ROWS = [
    "姓名,身份证号,性别,出生日期,户籍地行政区划",
    "张浏览,339902199001010014,1,1990-01-01,339902",
    "李浏览,３３９９０２１９８５０２０３００２７,2,1985/2/3,010101",
    "王浏览,339902199202300066,1,1992-02-30,339902",  # 日期不存在
    "赵浏览,,1,1994-01-01,339902",  # 主键为空
]


def test_upload_map_run_and_see_rejects(
    live_server: Any, page_factory: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    page, watch = page_factory()
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "gaj_officer")
    page.fill("input[name=password]", "Officer@2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    csv = tmp_path / "户籍人口.csv"
    csv.write_bytes(("\n".join(ROWS) + "\n").encode("gbk"))
    page.locator(".sidenav").get_by_text("上传文件").click()
    page.wait_for_url(f"{base}/ingest/upload")
    page.locator("select[name=resource_id]").select_option(label=_label(page, "人口基本信息"))
    page.locator("select[name=mode]").select_option("incremental")  # keep the demo rows
    page.set_input_files("input[name=file]", str(csv))
    page.get_by_role("button", name="上传并设置列映射").click()
    page.wait_for_url(f"{base}/ingest/sources/*")
    assert page.get_by_text("GBK").first.is_visible()
    assert page.locator("select[name=src__gmsfhm]").input_value() == "身份证号"
    assert page.locator("select[name=src__xm]").input_value() == "姓名"
    # The operator corrects one suggestion by hand.
    page.locator("select[name=src__hjdqh]").select_option("户籍地行政区划")
    page.screenshot(path=str(artifacts_dir / "ingest-mapping.png"), full_page=True)
    page.locator("#save-run").click()
    page.wait_for_url(f"{base}/ingest/loads/*")
    page.wait_for_function(
        "document.getElementById('load-status').innerText !== '进行中'", timeout=30_000
    )
    assert page.locator("#load-status").inner_text() == "成功"
    assert page.locator("#rows-read").inner_text() == "4"
    assert page.locator("#rows-accepted").inner_text() == "2"
    assert page.locator("#rows-rejected").inner_text() == "2"
    rejects = page.locator("#rejects")
    assert rejects.get_by_text("出生日期（csrq）不是有效日期").is_visible()
    assert rejects.get_by_text("公民身份号码（gmsfhm）为主键，不能为空").is_visible()
    page.screenshot(path=str(artifacts_dir / "ingest-load.png"), full_page=True)
    with page.expect_download() as info:
        rejects.get_by_text("下载全部问题数据").click()
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and "王浏览" in body.decode("utf-8-sig")

    page.locator(".sidenav").get_by_text("归集台账").click()
    page.wait_for_url(f"{base}/ingest")
    assert page.locator("#ingest-daily canvas").count() == 1
    assert page.get_by_text("应归未归").first.is_visible()
    page.screenshot(path=str(artifacts_dir / "ingest-ledger.png"), full_page=True)
    watch.assert_clean()


def _label(page: Any, name: str) -> str:
    options = page.locator("select[name=resource_id] option").all_inner_texts()
    return next(o for o in options if name in o)
