"""Excel/CSV import and export, and DCAT-AP 3 JSON-LD export.

Import is all-or-nothing: every row is validated first (structure, values, catalog rules,
database lookups) and errors are reported per sheet, row and column in Chinese; only a
clean file is written, in one transaction, with set-based inserts.

The .xlsx container is checked before any XML is parsed (zip magic, member count,
uncompressed size, compression ratio → zip bombs), then the sheets are streamed by
``xlsx.py`` (expat, no DOM; DOCTYPEs refused); merged header cells are reported.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal, Role
from gongshu.catalog import search, service, xlsx
from gongshu.catalog.models import Resource
from gongshu.catalog.rules import FIELD_LABELS, ITEM_LABELS, check_resource, org_prefixes
from gongshu.catalog.schemas import ResourceIn
from gongshu.catalog.vocab import (
    DATA_ELEMENTS,
    FORMATS,
    GRADE_LABELS,
    MASKING_RULES,
    SHARE_METHODS,
    Classification,
    DataType,
    OpenType,
    ShareType,
    Status,
    UpdateCycle,
    catalog_settings,
)
from gongshu.errors import AppError, ValidationFailed
from gongshu.orgs.models import Org, System
from gongshu.web.i18n import message_for

RESOURCE_SHEET = "数据资源"
ITEM_SHEET = "数据项"
HELP_SHEET = "填写说明"

# (key, header). Headers are matched by name, so column order does not matter.
RESOURCE_COLUMNS: list[tuple[str, str]] = [
    ("code", "资源代码"),
    ("name", "资源名称"),
    ("summary", "资源摘要"),
    ("owner_org", "提供部门编码"),
    ("owner_org_name", "提供部门名称"),
    ("system", "来源系统"),
    ("classification", "资源分类"),
    ("domain", "所属领域"),
    ("format", "资源格式"),
    ("update_cycle", "更新周期"),
    ("share_type", "共享类型"),
    ("share_condition", "共享条件"),
    ("share_basis", "不予共享依据"),
    ("share_methods", "共享方式"),
    ("open_type", "开放类型"),
    ("open_reason", "开放条件/不予开放理由"),
    ("grade", "分级"),
    ("keywords", "关键词"),
    ("release_date", "发布日期"),
    ("related_codes", "关联资源代码"),
    ("status", "状态"),
]
ITEM_COLUMNS: list[tuple[str, str]] = [
    ("res_code", "资源代码"),
    ("res_name", "资源名称"),
    ("position", "序号"),
    ("name", "数据项名称"),
    ("column", "英文字段名"),
    ("data_type", "数据类型"),
    ("length", "数据长度"),
    ("data_element", "数据元"),
    ("is_sensitive", "是否敏感"),
    ("is_key", "是否主键"),
    ("masking", "脱敏规则"),
    ("description", "说明"),
]
# Informational columns: exported, accepted and ignored on import.
IGNORED_KEYS = {"owner_org_name", "status"}
REQUIRED_RESOURCE = ["name", "domain", "update_cycle", "share_type", "open_type", "grade"]
REQUIRED_ITEM = ["name", "column", "data_type"]
HEADER_ALIASES = {
    "资源名称": "name",
    "资源代码": "code",
    "信息资源代码": "code",
    "信息资源名称": "name",
    "摘要": "summary",
    "资源提供方编码": "owner_org",
    "提供方代码": "owner_org",
    "数据项": "name",
    "信息项名称": "name",
    "字段名": "column",
    "英文名称": "column",
    "字段类型": "data_type",
    "长度": "length",
}
CSV_ITEM_PREFIX = "数据项·"
SPLIT = re.compile(r"[、,，;；/\s]+")
MAX_ERRORS = 500


@dataclass(frozen=True)
class ImportIssue:
    sheet: str
    row: int | None
    column: str | None  # header text
    letter: str | None
    message: str

    def text(self) -> str:
        where = f"「{self.sheet}」"
        if self.row:
            where += f"第 {self.row} 行"
        if self.column:
            where += (
                f" {self.letter or ''} 列（{self.column}）"
                if self.letter
                else f"「{self.column}」列"
            )
        return f"{where}：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "letter": self.letter,
            "message": self.text(),
        }


class ImportFailed(ValidationFailed):
    """The file was rejected; nothing was written."""

    default_code = "import_failed"

    def __init__(self, issues: list[ImportIssue], total: int | None = None) -> None:
        total = total if total is not None else len(issues)
        head = "；".join(i.text() for i in issues[:3])
        more = f"；共 {total} 处错误" if total > 3 else ""
        super().__init__(
            f"导入失败，未写入任何数据：{head}{more}",
            errors=[i.as_dict() for i in issues[:MAX_ERRORS]],
            error_count=total,
        )
        self.issues = issues
        self.total = total


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    items: int = 0
    warnings: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def _letter(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


# ---- reading files -----------------------------------------------------------------


def check_xlsx_container(data: bytes) -> None:
    """Refuse what is not a sane .xlsx before any XML parser sees it."""
    cfg = catalog_settings()
    sheet = "文件"
    if len(data) > cfg.import_max_bytes:
        raise ImportFailed(
            [
                ImportIssue(
                    sheet, None, None, None, f"文件超过 {cfg.import_max_bytes // 1048576} MB 上限"
                )
            ]
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFailed(
            [
                ImportIssue(
                    sheet,
                    None,
                    None,
                    None,
                    "这是旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后再导入",
                )
            ]
        )
    if not data.startswith(b"PK\x03\x04"):
        raise ImportFailed(
            [
                ImportIssue(
                    sheet,
                    None,
                    None,
                    None,
                    "文件不是有效的 Excel（.xlsx）文件；如为 CSV 请以 .csv 扩展名上传",
                )
            ]
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFailed(
            [ImportIssue(sheet, None, None, None, "Excel 文件已损坏，无法打开")]
        ) from None
    if len(infos) > 1000:
        raise ImportFailed(
            [ImportIssue(sheet, None, None, None, "文件包含的成员过多，疑似恶意文件")]
        )
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_048_576 and ratio > cfg.import_max_ratio:
            raise ImportFailed(
                [ImportIssue(sheet, None, None, None, "文件压缩比异常（疑似压缩炸弹），已拒绝")]
            )
    if total > cfg.import_max_unzipped:
        raise ImportFailed(
            [ImportIssue(sheet, None, None, None, "文件解压后体积过大（疑似压缩炸弹），已拒绝")]
        )
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise ImportFailed(
            [ImportIssue(sheet, None, None, None, "文件不是有效的 Excel（.xlsx）工作簿")]
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Sheet:
    title: str
    headers: dict[str, tuple[int, str]]  # key → (column index, header text)
    rows: list[tuple[int, dict[str, str]]]  # (row number, key → text)

    def where(self, key: str) -> tuple[str | None, str | None]:
        if key in self.headers:
            idx, text = self.headers[key]
            return text, _letter(idx)
        return None, None


def _map_headers(
    title: str, header: list[str], columns: list[tuple[str, str]], issues: list[ImportIssue]
) -> dict[str, tuple[int, str]]:
    keys = {k for k, _ in columns}
    # The template's own headers win over aliases (资源名称 is res_name on the item sheet).
    by_text = {a: k for a, k in HEADER_ALIASES.items() if k in keys} | {h: k for k, h in columns}
    mapped: dict[str, tuple[int, str]] = {}
    for idx, raw in enumerate(header):
        text = raw.replace("*", "").replace("＊", "").strip()
        if not text:
            continue
        key = by_text.get(text)
        if key is None or key not in keys:
            continue
        if key in mapped:
            issues.append(
                ImportIssue(
                    title, 1, text, _letter(idx), f"表头重复（与 {_letter(mapped[key][0])} 列相同）"
                )
            )
            continue
        mapped[key] = (idx, text)
    return mapped


def _rows_from_matrix(
    title: str,
    matrix: Iterator[list[str]],
    columns: list[tuple[str, str]],
    issues: list[ImportIssue],
) -> Sheet | None:
    max_rows = catalog_settings().import_max_rows
    try:
        header = next(matrix)
    except StopIteration:
        issues.append(ImportIssue(title, None, None, None, "工作表为空（缺少表头行）"))
        return None
    headers = _map_headers(title, header, columns, issues)
    rows: list[tuple[int, dict[str, str]]] = []
    for n, values in enumerate(matrix, start=2):
        if n - 1 > max_rows:
            issues.append(
                ImportIssue(title, n, None, None, f"超过单表 {max_rows} 行的上限，请拆分文件")
            )
            break
        if not any(values):
            continue
        row = {k: (values[i] if i < len(values) else "") for k, (i, _t) in headers.items()}
        rows.append((n, row))
    return Sheet(title, headers, rows)


def read_xlsx(data: bytes) -> tuple[Sheet | None, Sheet | None, list[ImportIssue]]:
    check_xlsx_container(data)
    issues: list[ImportIssue] = []
    max_rows = catalog_settings().import_max_rows
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            paths = xlsx.sheet_paths(zf)
            if RESOURCE_SHEET not in paths:
                titles = "、".join(paths) or "无"
                raise ImportFailed(
                    [
                        ImportIssue(
                            "文件",
                            None,
                            None,
                            None,
                            f"缺少工作表「{RESOURCE_SHEET}」（现有：{titles}），请使用导入模板",
                        )
                    ]
                )
            sheets: dict[str, tuple[list[list[str]], list[str]]] = {}
            for title in (RESOURCE_SHEET, ITEM_SHEET):
                if title in paths:
                    merges: list[str] = []
                    rows = list(xlsx.iter_rows(zf, paths[title], max_rows, merges))
                    sheets[title] = (rows, merges)
    except ImportFailed:
        raise
    except xlsx.XlsxError as exc:
        raise ImportFailed([ImportIssue("文件", None, None, None, str(exc))]) from None
    except (KeyError, ValueError, zipfile.BadZipFile, ParseError, EOFError, OSError):
        raise ImportFailed(
            [ImportIssue("文件", None, None, None, "Excel 文件内容无法解析")]
        ) from None
    for title, (rows, merges) in sheets.items():
        header_merges = [r for r in merges if min(map(int, re.findall(r"\d+", r) or ["0"])) <= 1]
        if header_merges:
            issues.append(
                ImportIssue(
                    title,
                    1,
                    None,
                    None,
                    f"表头存在合并单元格（{'、'.join(header_merges)}），请取消合并，每列一个表头",
                )
            )
        if rows and rows[-1] == ["\0too-many-rows"]:
            issues.append(
                ImportIssue(
                    title, max_rows + 2, None, None, f"超过单表 {max_rows} 行的上限，请拆分文件"
                )
            )
    if issues:
        raise ImportFailed(issues)
    res = _rows_from_matrix(
        RESOURCE_SHEET, iter(sheets[RESOURCE_SHEET][0]), RESOURCE_COLUMNS, issues
    )
    items = (
        _rows_from_matrix(ITEM_SHEET, iter(sheets[ITEM_SHEET][0]), ITEM_COLUMNS, issues)
        if ITEM_SHEET in sheets
        else None
    )
    return res, items, issues


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), GBK/GB18030 and friends, detected."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    enc = (best.encoding if best else "") or ""
    if enc.replace("_", "").lower() in ("gbk", "gb2312", "gb18030", "cp936", "hz") or not enc:
        enc = "gb18030"  # the superset; a wrong guess between these would lose characters
    try:
        return data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFailed(
                [
                    ImportIssue(
                        "文件", None, None, None, "无法识别文件编码，请另存为 UTF-8 编码的 CSV"
                    )
                ]
            ) from None


def read_csv(data: bytes) -> tuple[Sheet | None, Sheet | None, list[ImportIssue]]:
    """One CSV: resource columns then ``数据项·…`` item columns, one row per item."""
    if len(data) > catalog_settings().import_max_bytes:
        raise ImportFailed([ImportIssue("文件", None, None, None, "文件过大")])
    if data.startswith(b"PK\x03\x04"):
        raise ImportFailed(
            [ImportIssue("文件", None, None, None, "这是 Excel 文件，请以 .xlsx 扩展名上传")]
        )
    if b"\x00" in data[:4096]:
        raise ImportFailed([ImportIssue("文件", None, None, None, "文件不是文本格式的 CSV")])
    text = decode_text(data)
    issues: list[ImportIssue] = []
    reader = csv.reader(io.StringIO(text))
    columns = RESOURCE_COLUMNS + [
        (f"item_{k}", CSV_ITEM_PREFIX + h)
        for k, h in ITEM_COLUMNS
        if k not in ("res_code", "res_name")
    ]
    try:
        sheet = _rows_from_matrix("CSV", (list(map(str.strip, r)) for r in reader), columns, issues)
    except csv.Error as exc:
        raise ImportFailed([ImportIssue("CSV", None, None, None, f"CSV 格式错误：{exc}")]) from None
    if sheet is None:
        return None, None, issues
    # Split the flat rows into the two logical sheets; both keep the CSV's row numbers.
    res_headers = {k: v for k, v in sheet.headers.items() if not k.startswith("item_")}
    item_headers = {k[5:]: v for k, v in sheet.headers.items() if k.startswith("item_")}
    item_headers |= {"res_code": res_headers.get("code", (0, "资源代码"))}
    item_headers |= {"res_name": res_headers.get("name", (1, "资源名称"))}
    seen: set[tuple[str, str, str]] = set()
    res_rows, item_rows = [], []
    for n, row in sheet.rows:
        key = (row.get("code", ""), row.get("owner_org", ""), row.get("name", ""))
        if key not in seen:
            seen.add(key)
            res_rows.append((n, {k: v for k, v in row.items() if not k.startswith("item_")}))
        it = {k[5:]: v for k, v in row.items() if k.startswith("item_")}
        if any(it.values()):
            it |= {"res_code": row.get("code", ""), "res_name": row.get("name", "")}
            item_rows.append((n, it))
    return (
        Sheet("CSV", res_headers, res_rows),
        Sheet("CSV", item_headers, item_rows),
        issues,
    )


# ---- validating and importing --------------------------------------------------------


def _bool(text: str) -> bool | None:
    t = text.strip().lower()
    if t in ("是", "y", "yes", "true", "1", "√", "✓"):
        return True
    if t in ("否", "n", "no", "false", "0", ""):
        return False
    return None


def _split(text: str) -> list[str]:
    return [p for p in SPLIT.split(text.strip()) if p]


def _pydantic_issue(err: dict[str, Any]) -> str:
    return re.sub(r"^字段 \S+ ", "", message_for(err))


@dataclass
class _Candidate:
    row: int
    values: dict[str, Any]
    owner_org_id: int | None
    code: str | None
    items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    existing: Resource | None = None


def import_catalog(
    session: Session,
    actor: Principal,
    data: bytes,
    filename: str,
    *,
    publish: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Validate a template file completely; write it in one transaction if clean."""
    actor.ensure_role(Role.admin, Role.officer)
    if publish:
        actor.ensure_role(Role.admin)
    lower = filename.lower()
    if lower.endswith(".csv"):
        res_sheet, item_sheet, issues = read_csv(data)
    elif lower.endswith((".xlsx", ".xlsm")):
        res_sheet, item_sheet, issues = read_xlsx(data)
    else:
        raise ImportFailed([ImportIssue("文件", None, None, None, "只支持 .xlsx 或 .csv 文件")])
    if res_sheet is None:
        raise ImportFailed(issues)
    for key in REQUIRED_RESOURCE:
        if key not in res_sheet.headers:
            issues.append(
                ImportIssue(res_sheet.title, 1, FIELD_LABELS.get(key, key), None, "缺少必填列")
            )
    if item_sheet is not None:
        for key in REQUIRED_ITEM:
            if key not in item_sheet.headers:
                issues.append(
                    ImportIssue(item_sheet.title, 1, ITEM_LABELS[key], None, "缺少必填列")
                )
        if "res_code" not in item_sheet.headers and "res_name" not in item_sheet.headers:
            issues.append(ImportIssue(item_sheet.title, 1, "资源代码/资源名称", None, "缺少必填列"))
    if issues:
        raise ImportFailed(issues)
    report = ImportReport()
    if not res_sheet.rows:
        raise ImportFailed([ImportIssue(res_sheet.title, None, None, None, "没有可导入的资源行")])

    orgs = {o.code: o for o in session.scalars(select(Org))}
    org_by_id = {o.id: o for o in orgs.values()}
    systems: dict[tuple[int, str], int] = {
        (s.org_id, s.name): s.id for s in session.scalars(select(System))
    }
    cfg = catalog_settings()

    def add(sheet: Sheet, row: int, key: str | None, message: str) -> None:
        col, letter = sheet.where(key) if key else (None, None)
        if key and col is None:
            col = (FIELD_LABELS if sheet is res_sheet else ITEM_LABELS).get(key, key)
        issues.append(ImportIssue(sheet.title, row, col, letter, message))

    # Pass 1: resource rows → candidates (values typed enough for pydantic).
    candidates: list[_Candidate] = []
    by_code: dict[str, _Candidate] = {}
    by_name: dict[tuple[int | None, str], list[_Candidate]] = defaultdict(list)
    for n, row in res_sheet.rows:
        org_code = row.get("owner_org", "").strip().upper()
        owner: int | None
        if org_code:
            org = orgs.get(org_code)
            if org is None:
                add(res_sheet, n, "owner_org", f"部门编码 {org_code} 不存在")
                owner = None
            elif not actor.can_write_org(org.id):
                add(res_sheet, n, "owner_org", f"无权为部门 {org_code} 导入资源（只能导入本部门）")
                owner = None
            else:
                owner = org.id
        else:
            owner = actor.org_id
            if owner is None:
                add(res_sheet, n, "owner_org", "请填写提供部门编码")
        values: dict[str, Any] = {
            k: row.get(k, "")
            for k in (
                "name",
                "summary",
                "domain",
                "format",
                "update_cycle",
                "share_type",
                "share_condition",
                "share_basis",
                "open_type",
                "open_reason",
                "grade",
                "keywords",
            )
            if k in res_sheet.headers
        }
        values["classification"] = row.get("classification") or Classification.department.value
        if not values.get("format"):
            values["format"] = "数据库"
        values["share_methods"] = _split(row.get("share_methods", ""))
        values["related_codes"] = [c.upper() for c in _split(row.get("related_codes", ""))]
        if row.get("release_date"):
            values["release_date"] = row["release_date"].replace("/", "-")[:10]
        sys_name = row.get("system", "").strip()
        if sys_name and owner is not None:
            sid = systems.get((owner, sys_name))
            if sid is None:
                add(res_sheet, n, "system", f"提供部门没有名为“{sys_name}”的信息系统")
            values["system_id"] = sid
        code = row.get("code", "").strip().upper() or None
        cand = _Candidate(n, values, owner, code)
        if code:
            if code in by_code:
                add(res_sheet, n, "code", f"资源代码 {code} 与第 {by_code[code].row} 行重复")
                continue
            by_code[code] = cand
        name_key = (owner, " ".join(values.get("name", "").split()))
        by_name[name_key].append(cand)
        if len(by_name[name_key]) == 2:
            add(res_sheet, n, "name", f"资源名称与第 {by_name[name_key][0].row} 行重复")
        candidates.append(cand)

    # Pass 2: item rows attach to their resource by code or name.
    if item_sheet is not None:
        names_only: dict[str, list[_Candidate]] = defaultdict(list)
        for c in candidates:
            names_only[" ".join(str(c.values.get("name", "")).split())].append(c)
        for n, row in item_sheet.rows:
            rc = row.get("res_code", "").strip().upper()
            rn = " ".join(row.get("res_name", "").split())
            target = by_code.get(rc) if rc else None
            if target is None and rn:
                matches = names_only.get(rn, [])
                if len(matches) > 1:
                    add(item_sheet, n, "res_name", f"有多个名为“{rn}”的资源，请填写资源代码")
                    continue
                target = matches[0] if matches else None
            if target is None:
                key = "res_code" if rc else "res_name"
                add(item_sheet, n, key, f"在「{RESOURCE_SHEET}」中找不到资源“{rc or rn}”")
                continue
            item: dict[str, Any] = {
                k: row.get(k, "")
                for k in ("name", "column", "data_type", "data_element", "description")
                if k in item_sheet.headers
            }
            item["masking"] = row.get("masking", "") or "none"
            for flag in ("is_sensitive", "is_key"):
                b = _bool(row.get(flag, ""))
                if b is None:
                    add(item_sheet, n, flag, "应填写“是”或“否”")
                item[flag] = bool(b)
            length = row.get("length", "").strip()
            if length:
                if length.isdigit():
                    item["length"] = int(length)
                else:
                    add(item_sheet, n, "length", "应为正整数")
            pos = row.get("position", "").strip()
            order = int(pos) if pos.isdigit() else 10**9 + n
            target.items.append((order, item | {"_row": n}))

    # Pass 3: pydantic + catalog rules for each resource, errors mapped to cells.
    entries: list[tuple[_Candidate, ResourceIn]] = []
    existing_codes: dict[str, Resource] = {}
    codes = [c.code for c in candidates if c.code]
    for start in range(0, len(codes), 900):
        for r in session.scalars(
            select(Resource).where(Resource.code.in_(codes[start : start + 900]))
        ):
            existing_codes[r.code] = r
    db_names: set[tuple[int, str]] = set(
        session.execute(
            select(Resource.owner_org_id, Resource.name).where(Resource.status != Status.retired)
        )
    )
    file_codes = set(by_code)
    all_codes = set(session.scalars(select(Resource.code))) | file_codes
    for cand in candidates:
        cand.items.sort(key=lambda t: t[0])
        item_rows = [r.pop("_row") for _, r in cand.items]
        payload = cand.values | {
            "owner_org_id": cand.owner_org_id,
            "items": [i for _, i in cand.items],
        }
        try:
            data_in = ResourceIn.model_validate(payload)
        except ValidationError as exc:
            for err in exc.errors():
                loc = err.get("loc", ())
                if loc and loc[0] == "items" and len(loc) >= 2 and isinstance(loc[1], int):
                    key = str(loc[2]) if len(loc) > 2 else None
                    add(item_sheet or res_sheet, item_rows[loc[1]], key, _pydantic_issue(dict(err)))
                else:
                    add(
                        res_sheet,
                        cand.row,
                        str(loc[0]) if loc else None,
                        _pydantic_issue(dict(err)),
                    )
            continue
        if cand.owner_org_id is None:
            continue
        org = org_by_id[cand.owner_org_id]
        for p in check_resource(data_in, cfg, org_prefix=org_prefixes(org.name, org.short_name)):
            if p.item is not None and item_sheet is not None:
                add(item_sheet, item_rows[p.item], p.field, p.message)
            else:
                add(res_sheet, cand.row, p.field, p.text())
        if cand.code:
            existing = existing_codes.get(cand.code)
            if existing is not None:
                if existing.status != Status.draft or existing.owner_org_id != cand.owner_org_id:
                    add(
                        res_sheet,
                        cand.row,
                        "code",
                        f"资源代码 {cand.code} 已存在且不是本部门的草稿，不能通过导入覆盖（已发布资源请发起修订）",
                    )
                cand.existing = existing
            else:
                m = service.CODE_RE.match(cand.code)
                expected = service.code_prefix(data_in.classification, org.code)
                if m is None or f"{m.group(1)}-{m.group(2)}" != expected:
                    add(
                        res_sheet,
                        cand.row,
                        "code",
                        f"资源代码 {cand.code} 与资源分类和提供部门不符，应形如 {expected}-000001；新资源请留空，由系统生成",
                    )
        if cand.existing is None and (cand.owner_org_id, data_in.name) in db_names:
            add(res_sheet, cand.row, "name", f"本部门已有同名资源“{data_in.name}”")
        missing = [c for c in data_in.related_codes if c not in all_codes]
        if missing:
            add(res_sheet, cand.row, "related_codes", f"关联资源 {'、'.join(missing)} 不存在")
        entries.append((cand, data_in))

    if issues:
        issues.sort(key=lambda i: (i.sheet != RESOURCE_SHEET, i.sheet, i.row or 0))
        raise ImportFailed(issues[:MAX_ERRORS], total=len(issues))
    report.items = sum(len(d.items) for _, d in entries)
    if dry_run:
        report.created = sum(1 for c, _ in entries if c.existing is None)
        report.updated = len(entries) - report.created
        return report
    try:
        new = [
            service.NewResource(d, c.owner_org_id or 0, c.code)
            for c, d in entries
            if c.existing is None
        ]
        service.bulk_create(session, actor, new, publish=publish)
        for c, d in entries:
            if c.existing is not None:
                service.replace_draft(session, actor, c.existing, d)
                report.updated += 1
        report.created = len(new)
        session.commit()
    except AppError:
        session.rollback()
        raise
    except Exception:
        session.rollback()
        raise
    report.codes = [c.code or "" for c, _ in entries if c.code]
    return report


# ---- exporting ---------------------------------------------------------------------


def export_records(
    session: Session,
    actor: Principal,
    *,
    org_id: int | None = None,
    release_id: int | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """What an export contains: one content dict per resource (plus code, org, status)."""
    service.ensure_catalog_reader(actor)
    orgs = {o.id: o for o in session.scalars(select(Org))}
    system_names = dict(session.execute(select(System.id, System.name)).all())
    out: list[dict[str, Any]] = []
    if release_id is not None:
        from gongshu.catalog.releases import release_entries

        for e in release_entries(session, actor, release_id, org_id=org_id):
            out.append(e.data | {"code": e.code, "status": Status.published.value})
    else:
        stmt = select(Resource).where(search.visibility(actor))
        if org_id is not None:
            stmt = stmt.where(Resource.owner_org_id == org_id)
        if status:
            stmt = stmt.where(Resource.status == status)
        resources = list(session.scalars(stmt.order_by(Resource.code)))
        for spec in service.specs_for(session, resources):
            d = spec.model_dump(mode="json")
            d["items"] = [
                {k: v for k, v in i.items() if k not in ("id", "position")} for i in d["items"]
            ]
            out.append(d)
    for d in out:
        org = orgs.get(d.get("owner_org_id") or 0)
        d["owner_org_code"] = org.code if org else ""
        d["owner_org_name"] = org.name if org else ""
        d["system_name"] = system_names.get(d.get("system_id") or 0, "")
    return out


def _resource_cells(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": d.get("code", ""),
        "name": d["name"],
        "summary": d.get("summary") or "",
        "owner_org": d.get("owner_org_code", ""),
        "owner_org_name": d.get("owner_org_name", ""),
        "system": d.get("system_name", ""),
        "classification": d.get("classification", ""),
        "domain": d.get("domain", ""),
        "format": d.get("format", ""),
        "update_cycle": d.get("update_cycle", ""),
        "share_type": d.get("share_type", ""),
        "share_condition": d.get("share_condition") or "",
        "share_basis": d.get("share_basis") or "",
        "share_methods": "、".join(d.get("share_methods") or []),
        "open_type": d.get("open_type", ""),
        "open_reason": d.get("open_reason") or "",
        "grade": d.get("grade", ""),
        "keywords": d.get("keywords") or "",
        "release_date": d.get("release_date") or "",
        "related_codes": "、".join(d.get("related_codes") or []),
        "status": _status_label(d.get("status")),
    }


def _status_label(status: str | None) -> str:
    from gongshu.catalog.vocab import STATUS_LABELS

    return STATUS_LABELS.get(status or "", status or "")


def _item_cells(d: dict[str, Any], pos: int, it: dict[str, Any]) -> dict[str, Any]:
    return {
        "res_code": d.get("code", ""),
        "res_name": d["name"],
        "position": pos,
        "name": it["name"],
        "column": it["column"],
        "data_type": it["data_type"],
        "length": it.get("length") if it.get("length") is not None else "",
        "data_element": it.get("data_element") or "",
        "is_sensitive": "是" if it.get("is_sensitive") else "否",
        "is_key": "是" if it.get("is_key") else "否",
        "masking": it.get("masking") or "none",
        "description": it.get("description") or "",
    }


def to_xlsx(records: Iterable[dict[str, Any]]) -> bytes:
    """The import template, filled with ``records`` (no records → a blank template)."""
    required = set(REQUIRED_RESOURCE) | {"owner_org"}
    res_rows: list[list[Any]] = [
        [f"{text}*" if key in required else text for key, text in RESOURCE_COLUMNS]
    ]
    item_req = set(REQUIRED_ITEM) | {"res_name"}
    item_rows: list[list[Any]] = [
        [f"{text}*" if key in item_req else text for key, text in ITEM_COLUMNS]
    ]
    for d in records:
        cells = _resource_cells(d)
        res_rows.append([cells[k] for k, _ in RESOURCE_COLUMNS])
        for pos, it in enumerate(d.get("items") or [], 1):
            ic = _item_cells(d, pos, it)
            item_rows.append([ic[k] for k, _ in ITEM_COLUMNS])
    return xlsx.write_workbook(
        [(RESOURCE_SHEET, res_rows), (ITEM_SHEET, item_rows), (HELP_SHEET, help_lines())]
    )


def help_lines() -> list[list[str]]:
    cfg = catalog_settings()
    return [
        ["字段", "说明 / 可选值"],
        [
            "资源代码",
            "新资源留空，由系统生成（分类码-部门编码-六位序号）；填写已有草稿的代码则覆盖该草稿",
        ],
        ["资源名称*", f"不超过 {cfg.name_max} 字，不要以部门名称开头"],
        ["资源摘要", f"不超过 {cfg.summary_max} 字；提交审核前必填"],
        ["提供部门编码*", "如 GAJ；部门专员只能导入本部门"],
        ["资源分类", "、".join(c.value for c in Classification)],
        ["所属领域*", "、".join(cfg.domain_list)],
        ["资源格式", "、".join(FORMATS)],
        ["更新周期*", "、".join(c.value for c in UpdateCycle)],
        [
            "共享类型*",
            "、".join(c.value for c in ShareType) + "；有条件共享须填共享条件，不予共享须填依据",
        ],
        ["共享方式", "多个用顿号分隔：" + "、".join(SHARE_METHODS)],
        ["开放类型*", "、".join(c.value for c in OpenType) + "；受限开放/不予开放须填理由"],
        ["分级*", "；".join(f"{k} {v}" for k, v in GRADE_LABELS.items()) + "；L4 只能不予开放"],
        ["关联资源代码", "多个用顿号分隔"],
        ["数据类型*", "、".join(t.value for t in DataType) + "；字符串、小数须填长度"],
        ["英文字段名*", "小写字母开头，只含小写字母、数字、下划线"],
        ["是否敏感 / 是否主键", "是 或 否"],
        ["脱敏规则", "；".join(f"{k} {v}" for k, v in MASKING_RULES.items())],
        ["数据元", "如：" + "、".join(DATA_ELEMENTS[:10])],
    ]


def csv_headers() -> list[str]:
    return [h for _, h in RESOURCE_COLUMNS] + [
        CSV_ITEM_PREFIX + h for k, h in ITEM_COLUMNS if k not in ("res_code", "res_name")
    ]


def to_csv(records: Iterable[dict[str, Any]]) -> bytes:
    """UTF-8 with BOM (so Excel opens it); one row per item, resource columns repeated."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(csv_headers())
    item_keys = [k for k, _ in ITEM_COLUMNS if k not in ("res_code", "res_name")]
    for d in records:
        cells = _resource_cells(d)
        base = [cells[k] for k, _ in RESOURCE_COLUMNS]
        items = d.get("items") or []
        if not items:
            w.writerow(base + [""] * len(item_keys))
        for pos, it in enumerate(items, 1):
            ic = _item_cells(d, pos, it)
            w.writerow(base + [ic[k] for k in item_keys])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# ---- DCAT-AP 3 ---------------------------------------------------------------------

EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY = {
    "实时": "CONT",
    "每日": "DAILY",
    "每周": "WEEKLY",
    "每旬": "MONTHLY_3",
    "每月": "MONTHLY",
    "每季度": "QUARTERLY",
    "每年": "ANNUAL",
}
ACCESS_RIGHTS = {"无条件开放": "PUBLIC", "受限开放": "RESTRICTED", "不予开放": "NON_PUBLIC"}
EU_THEMES = {
    "经济建设": "ECON",
    "信用服务": "ECON",
    "财税金融": "ECON",
    "交通运输": "TRAN",
    "社会保障": "SOCI",
    "医疗卫生": "HEAL",
    "教育文化": "EDUC",
    "科技创新": "TECH",
    "资源环境": "ENVI",
    "城建住房": "REGI",
    "公共安全": "JUST",
    "社会救助": "SOCI",
    "法律服务": "JUST",
    "机构团体": "GOVE",
}
XSD_TYPES = {
    "字符串": "string",
    "长文本": "string",
    "整数": "integer",
    "小数": "decimal",
    "日期": "date",
    "日期时间": "dateTime",
    "布尔": "boolean",
    "二进制": "base64Binary",
}
DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "csvw": "http://www.w3.org/ns/csvw#",
    "adms": "http://www.w3.org/ns/adms#",
    "gongshu": "https://gongshu.dev/ns/catalog#",
}


def to_dcat(records: Iterable[dict[str, Any]], base_url: str, title: str) -> dict[str, Any]:
    """A DCAT-AP 3 catalog as JSON-LD with an inline context (no remote fetches)."""
    base = base_url.rstrip("/")

    def zh(text: str) -> dict[str, str]:
        return {"@value": text, "@language": "zh"}

    datasets = []
    for d in records:
        themes: list[dict[str, Any]] = [
            {
                "@id": f"{base}/catalog/themes/{quote(d['domain'])}",
                "@type": "skos:Concept",
                "skos:prefLabel": zh(d["domain"]),
            }
        ]
        if d["domain"] in EU_THEMES:
            themes.append({"@id": f"{EU}data-theme/{EU_THEMES[d['domain']]}"})
        ds: dict[str, Any] = {
            "@id": f"{base}/catalog/code/{quote(d['code'])}",
            "@type": "dcat:Dataset",
            "dct:identifier": d["code"],
            "dct:title": zh(d["name"]),
            "dct:description": zh(d.get("summary") or d["name"]),
            "dct:publisher": {
                "@id": f"urn:gongshu:org:{quote(d.get('owner_org_code', ''))}",
                "@type": "foaf:Agent",
                "foaf:name": zh(d.get("owner_org_name", "")),
            },
            "dcat:theme": themes,
            "dcat:keyword": [zh(k) for k in _split(d.get("keywords") or "")] or [zh(d["domain"])],
            "dct:accrualPeriodicity": {"@id": f"{EU}frequency/{FREQUENCY[d['update_cycle']]}"},
            "dct:accessRights": {"@id": f"{EU}access-right/{ACCESS_RIGHTS[d['open_type']]}"},
            "dct:type": zh(d.get("classification", "")),
            "gongshu:shareType": d["share_type"],
            "gongshu:openType": d["open_type"],
            "gongshu:grade": d["grade"],
            "csvw:tableSchema": {
                "@type": "csvw:Schema",
                "csvw:column": [
                    {
                        "@type": "csvw:Column",
                        "csvw:name": it["column"],
                        "csvw:title": zh(it["name"]),
                        "csvw:datatype": {"@id": f"xsd:{XSD_TYPES.get(it['data_type'], 'string')}"},
                        "gongshu:sensitive": bool(it.get("is_sensitive")),
                    }
                    for it in d.get("items") or []
                ],
            },
        }
        if d.get("release_date"):
            ds["dct:issued"] = {"@value": str(d["release_date"]), "@type": "xsd:date"}
        if d.get("published_at"):
            ds["dct:modified"] = {"@value": str(d["published_at"]), "@type": "xsd:dateTime"}
        if d.get("related_codes"):
            ds["dct:relation"] = [
                {"@id": f"{base}/catalog/code/{quote(c)}"} for c in d["related_codes"]
            ]
        datasets.append(ds)
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": zh(title),
        "dct:description": zh(f"{title}（共 {len(datasets)} 个数据资源）"),
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": zh("数据局")},
        "dct:issued": {"@value": date.today().isoformat(), "@type": "xsd:date"},
        "dcat:dataset": datasets,
    }
