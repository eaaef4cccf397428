"""A small, fast, streaming .xlsx reader and writer for the catalog template.

openpyxl builds an object per cell and scans a sheet twice when it has no dimension
record; on a 50,000-row sheet that is most of a minute. The template only needs cell
text, so this module streams the sheet XML with expat (C) and writes the workbook as
plain SpreadsheetML. The zip container is checked by the caller before anything here
runs, and documents with a DOCTYPE are refused (no entity tricks).
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import iterparse
from xml.sax.saxutils import escape

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
BUILTIN_DATE_FORMATS = set(range(14, 23)) | {45, 46, 47}
EPOCH = datetime(1899, 12, 30)
_COL = re.compile(r"^([A-Z]+)")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class XlsxError(ValueError):
    """The workbook's content cannot be read (message in Chinese)."""


def _open_xml(zf: zipfile.ZipFile, path: str) -> Any:
    head = zf.open(path).read(2048)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise XlsxError("文件包含不允许的 XML 声明（DOCTYPE），已拒绝")
    return zf.open(path)


def col_index(ref: str) -> int:
    m = _COL.match(ref)
    if not m:
        return -1
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letter(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title → worksheet XML path, in workbook order."""
    rels: dict[str, str] = {}
    try:
        with _open_xml(zf, "xl/_rels/workbook.xml.rels") as fh:
            for _, el in iterparse(fh):
                if el.tag.endswith("Relationship"):
                    rels[el.get("Id", "")] = el.get("Target", "")
    except KeyError:
        pass
    out: dict[str, str] = {}
    with _open_xml(zf, "xl/workbook.xml") as fh:
        for _, el in iterparse(fh):
            if el.tag == f"{NS}sheet":
                target = rels.get(el.get(f"{REL_NS}id", ""), "")
                if target:
                    out[el.get("name", "")] = (
                        target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                    )
    return out


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in zf.namelist():
        return []
    out: list[str] = []
    with _open_xml(zf, "xl/sharedStrings.xml") as fh:
        for _, el in iterparse(fh):
            if el.tag == f"{NS}si":
                # Plain <t> and rich-text runs <r><t>; phonetic hints <rPh> are not text.
                parts = [t.text or "" for t in el.iter(f"{NS}t")]
                for ph in el.iter(f"{NS}rPh"):
                    for t in ph.iter(f"{NS}t"):
                        if t.text and t.text in parts:
                            parts.remove(t.text)
                out.append("".join(parts))
                el.clear()
    return out


def _date_styles(zf: zipfile.ZipFile) -> set[int]:
    """Indexes of cell formats that display numbers as dates."""
    if "xl/styles.xml" not in zf.namelist():
        return set()
    custom: dict[int, str] = {}
    xfs: list[int] = []
    in_cell_xfs = False
    with _open_xml(zf, "xl/styles.xml") as fh:
        for event, el in iterparse(fh, events=("start", "end")):
            if el.tag == f"{NS}cellXfs":
                in_cell_xfs = event == "start"
            elif event == "end" and el.tag == f"{NS}numFmt":
                custom[int(el.get("numFmtId", "0"))] = el.get("formatCode", "")
            elif event == "end" and el.tag == f"{NS}xf" and in_cell_xfs:
                xfs.append(int(el.get("numFmtId", "0")))

    def is_date(fid: int) -> bool:
        if fid in BUILTIN_DATE_FORMATS:
            return True
        code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", custom.get(fid, "")).lower()
        return bool(code) and bool(re.search(r"[ymd]", code)) and "#" not in code

    return {i for i, fid in enumerate(xfs) if is_date(fid)}


def _number_text(raw: str, is_date: bool) -> str:
    try:
        value = float(raw)
    except ValueError:
        return raw
    if is_date:
        moment = EPOCH + timedelta(days=value)
        if moment.time() == datetime.min.time():
            return moment.date().isoformat()
        return moment.isoformat(sep=" ", timespec="seconds")
    if value.is_integer() and "e" not in raw.lower():
        return str(int(value))
    return raw


def _iter_rows_expat(
    zf: zipfile.ZipFile, path: str, max_rows: int, merges: list[str] | None = None
) -> Iterator[list[str]]:
    """Each row's cell texts, gaps filled, so the n-th yielded list is sheet row n.

    Merged ranges (listed after the data in the XML) are appended to ``merges``.
    """
    shared = _shared_strings(zf)
    dates = _date_styles(zf)
    tag_c, tag_row, tag_merge = f"{NS}c", f"{NS}row", f"{NS}mergeCell"
    tag_v, tag_is_t, tag_t = f"{NS}v", f"{NS}is/{NS}t", f"{NS}t"
    columns: dict[str, int] = {}  # "AB" → 27, cached: refs repeat their letters
    current = 0
    cells: dict[int, str] = {}
    with _open_xml(zf, path) as fh:
        for _, el in iterparse(fh):
            tag = el.tag
            if tag == tag_c:
                ref = el.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = columns.get(letters)
                    if col is None:
                        col = columns[letters] = col_index(letters)
                else:
                    col = max(cells) + 1 if cells else 0
                kind = el.get("t")
                if kind == "inlineStr":
                    t = el.find(tag_is_t)
                    if t is not None and len(el[0]) == 1:
                        text = t.text or ""
                    else:  # rich text runs
                        text = "".join(x.text or "" for x in el.iter(tag_t))
                else:
                    v = el.find(tag_v)
                    raw = (v.text or "") if v is not None else ""
                    if kind == "s":
                        try:
                            text = shared[int(raw)]
                        except (ValueError, IndexError):
                            raise XlsxError(f"单元格 {ref} 引用了不存在的共享字符串") from None
                    elif kind == "b":
                        text = "是" if raw == "1" else "否"
                    elif kind in ("str", "e"):
                        text = raw
                    else:
                        style = el.get("s")
                        text = _number_text(raw, bool(style) and int(style) in dates) if raw else ""
                if 0 <= col < 16384:
                    cells[col] = text.strip()
                el.clear()
            elif tag == tag_row:
                number = int(el.get("r") or current + 1)
                if number > max_rows + 1:
                    yield ["\0too-many-rows"]
                    return
                while current + 1 < number:
                    current += 1
                    yield []
                current = number
                width = max(cells) + 1 if cells else 0
                yield [cells.get(i, "") for i in range(width)]
                cells = {}
                el.clear()
            elif tag == tag_merge and merges is not None:
                merges.append(el.get("ref", ""))


_ROW = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_ATTR_R = re.compile(rb'\sr="([A-Z]*)(\d*)"')
_ATTR_T = re.compile(rb'\st="(\w+)"')
_ATTR_S = re.compile(rb'\ss="(\d+)"')
_V = re.compile(rb"<v>(.*?)</v>", re.S)
_T = re.compile(rb"<t\b[^>]*>(.*?)</t>", re.S)
_RPH = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_MERGE = re.compile(rb'<mergeCell\s+ref="([^"]+)"')
CHUNK = 4 * 1024 * 1024


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return html.unescape(text) if "&" in text else text


def iter_rows(
    zf: zipfile.ZipFile, path: str, max_rows: int, merges: list[str] | None = None
) -> Iterator[list[str]]:
    """Each row's cell texts, gaps filled, so the n-th yielded list is sheet row n.

    Sheets written with the default namespace (Excel, WPS, LibreOffice, openpyxl, this
    module) are scanned with regular expressions in 4 MB chunks cut at row boundaries,
    several times faster than building elements; anything unusual (prefixed tags)
    goes through the expat reader. Merged ranges are appended to ``merges``.
    """
    with _open_xml(zf, path) as fh:
        head = fh.read(4096)
    if b"<worksheet" not in head:
        yield from _iter_rows_expat(zf, path, max_rows, merges)
        return
    shared = _shared_strings(zf)
    dates = _date_styles(zf)
    columns: dict[bytes, int] = {}
    current = 0
    tail = b""
    with _open_xml(zf, path) as fh:
        while True:
            block = fh.read(CHUNK)
            data = tail + block
            cut = data.rfind(b"</row>") + 6 if block else len(data)
            if block and cut < 6:
                tail = data
                continue
            work, tail = data[:cut], data[cut:]
            for row in _ROW.finditer(work):
                m = re.search(rb'\sr="(\d+)"', row.group(1))
                number = int(m.group(1)) if m else current + 1
                if number > max_rows + 1:
                    yield ["\0too-many-rows"]
                    return
                while current + 1 < number:
                    current += 1
                    yield []
                current = number
                cells: dict[int, str] = {}
                for cell in _CELL.finditer(row.group(2) or b""):
                    attrs, body = cell.group(1), cell.group(2) or b""
                    r = _ATTR_R.search(attrs)
                    if r and r.group(1):
                        col = columns.get(r.group(1))
                        if col is None:
                            col = columns[r.group(1)] = col_index(r.group(1).decode())
                    else:
                        col = max(cells) + 1 if cells else 0
                    t = _ATTR_T.search(attrs)
                    kind = t.group(1) if t else b"n"
                    if kind == b"inlineStr":
                        if b"<rPh" in body:
                            body = _RPH.sub(b"", body)
                        text = "".join(_text(x) for x in _T.findall(body))
                    else:
                        v = _V.search(body)
                        raw = _text(v.group(1)) if v else ""
                        if kind == b"s":
                            try:
                                text = shared[int(raw)]
                            except (ValueError, IndexError):
                                raise XlsxError("单元格引用了不存在的共享字符串") from None
                        elif kind == b"b":
                            text = "是" if raw == "1" else "否"
                        elif kind in (b"str", b"e"):
                            text = raw
                        else:
                            st = _ATTR_S.search(attrs)
                            is_date = bool(st) and int(st.group(1)) in dates
                            text = _number_text(raw, is_date) if raw else ""
                    if 0 <= col < 16384:
                        cells[col] = text.strip()
                width = max(cells) + 1 if cells else 0
                yield [cells.get(i, "") for i in range(width)]
            if merges is not None and b"<mergeCell" in work:
                merges.extend(m.decode() for m in _MERGE.findall(work))
            if not block:
                break


# ---- writing -----------------------------------------------------------------------

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{sheets}</Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="等线"/></font><font><b/><sz val="11"/><name val="等线"/></font></fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFDDE8F7"/></patternFill></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/><xf fontId="1" fillId="2" applyFont="1" applyFill="1"/></cellXfs></styleSheet>"""


def _cell(ref: str, value: Any, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = "是" if value else "否"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    if isinstance(value, date | datetime):
        value = value.isoformat()
    text = escape(_ILLEGAL.sub("", str(value)))
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def write_workbook(sheets: Sequence[tuple[str, list[list[Any]]]]) -> bytes:
    """Sheets as (title, rows); the first row of each is styled as a header."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(sheets=overrides))
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        book = "".join(
            f'<sheet name="{escape(title)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (title, _) in enumerate(sheets, 1)
        )
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{book}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        rels += f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        )
        for i, (_title, rows) in enumerate(sheets, 1):
            width = max((len(r) for r in rows), default=1)
            letters = [col_letter(c) for c in range(width)]
            with zf.open(f"xl/worksheets/sheet{i}.xml", "w") as fh:
                fh.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    b'<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" state="frozen"/></sheetView></sheetViews>'
                    b'<cols><col min="1" max="%d" width="18" customWidth="1"/></cols><sheetData>'
                    % width
                )
                chunk: list[str] = []
                for n, row in enumerate(rows, 1):
                    style = 1 if n == 1 else 0
                    cells = "".join(_cell(f"{letters[c]}{n}", v, style) for c, v in enumerate(row))
                    chunk.append(f'<row r="{n}">{cells}</row>')
                    if len(chunk) >= 2000:
                        fh.write("".join(chunk).encode())
                        chunk = []
                fh.write("".join(chunk).encode())
                fh.write(b"</sheetData></worksheet>")
    return buf.getvalue()
