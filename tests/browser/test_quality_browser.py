"""Headless Chromium: after the demo loads the overview shows scores; a rule written in the
editor finds a bad address in an uploaded increment; the problem shows its sample; the
officer fixes the source (a corrected upload), marks it rectified and re-checks: closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.controlplane]

HEADER = "姓名,身份证号,性别,出生日期,户籍地行政区划,户籍地址"
PERSON_ID = "339902199001010026"  # 示例市城东区, check character computed below


def _ric(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return (
        body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]
    )


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "gaj_officer")
    page.fill("input[name=password]", "Officer@2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _upload(page: Any, base: str, path: Path) -> None:
    page.goto(f"{base}/ingest/upload")
    options = page.locator("select[name=resource_id] option").all_inner_texts()
    page.locator("select[name=resource_id]").select_option(
        label=next(o for o in options if "人口基本信息" in o)
    )
    page.locator("select[name=mode]").select_option("incremental")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="上传并设置列映射").click()
    page.wait_for_url(f"{base}/ingest/sources/*")
    page.locator("select[name=src__hjdqh]").select_option("户籍地行政区划")
    page.locator("select[name=src__hjdz]").select_option("户籍地址")
    page.locator("#save-run").click()
    page.wait_for_url(f"{base}/ingest/loads/*")
    page.wait_for_function(
        "document.getElementById('load-status').innerText !== '进行中'", timeout=60_000
    )
    assert page.locator("#load-status").inner_text() == "成功"


def test_overview_problem_samples_rectify_and_close(
    live_server: Any, page_factory: Any, artifacts_dir: Path, tmp_path: Path
) -> None:
    page, watch = page_factory()
    base = live_server.url
    _login(page, base)
    # the demo loads ran the gate: scores exist
    page.locator(".sidenav").get_by_text("质量概览").click()
    page.wait_for_url(f"{base}/quality")
    assert page.locator("#quality-score").inner_text() not in ("", "—")
    assert page.locator("#org-scores tbody tr").count() >= 1
    assert page.locator("#q-dims canvas").count() == 1
    page.screenshot(path=str(artifacts_dir / "quality-overview.png"), full_page=True)

    # the officer adds a rule in the editor of 人口基本信息
    page.get_by_role("link", name="人口基本信息").first.click()
    page.wait_for_url(f"{base}/quality/resources/*")
    resource_url = page.url
    form = page.locator("#rule-form")
    form.locator("select[name=kind]").select_option("length")
    form.locator("select[name=column]").select_option("hjdz")
    form.locator("textarea[name=params]").fill('{"min_length": 4, "max_length": 200}')
    form.get_by_role("button", name="添加规则").click()
    page.wait_for_url(f"{resource_url}*")
    assert page.get_by_text("户籍地址：长度范围").first.is_visible()

    # 发现: an increment with a one-character address
    person = _ric(PERSON_ID[:17])
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n钱浏览,{person},2,1990-01-01,339902,无\n", encoding="utf-8")
    _upload(page, base, bad)

    page.goto(f"{base}/quality/problems")
    card = page.locator(".problem-card", has_text="户籍地址：长度范围")
    assert card.count() == 1
    card.click()
    page.wait_for_url(f"{base}/quality/problems/*")
    problem_url = page.url
    assert page.locator("#problem-state").inner_text() == "已反馈待整改"
    sample = page.locator("#samples td.fail-field")
    assert sample.first.inner_text() == "无"  # the failing field, highlighted
    assert page.locator("#samples").get_by_text(person).is_visible()
    page.screenshot(path=str(artifacts_dir / "quality-problem.png"), full_page=True)

    # 整改: fix at the source (a corrected increment), then mark rectified
    good = tmp_path / "good.csv"
    good.write_text(
        f"{HEADER}\n钱浏览,{person},2,1990-01-01,339902,示例市城东区解放路1号\n", encoding="utf-8"
    )
    _upload(page, base, good)
    page.goto(problem_url)
    page.fill("#rectify-form textarea[name=note]", "已在户籍系统补全地址并重新归集")
    page.locator("#rectify-form button").click()
    page.wait_for_url(problem_url)
    assert page.locator("#problem-state").inner_text() == "已整改待复核"

    # 评价: re-check the whole table, the problem closes
    page.locator("#recheck").click()
    page.wait_for_url(problem_url, timeout=120_000)
    assert page.locator("#problem-state").inner_text() == "已整改（关闭）"
    assert page.get_by_text("复检通过，已整改").is_visible()
    page.screenshot(path=str(artifacts_dir / "quality-closed.png"), full_page=True)
    watch.assert_clean()
