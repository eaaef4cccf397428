"""Chinese tokenisation for catalog search (jieba).

Documents are segmented in search mode (long words *and* their parts) and stored as
space-separated tokens, so neither SQLite FTS5 nor PostgreSQL needs a Chinese parser.
Queries are segmented precisely; each word matches either itself or all of its parts.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

import jieba

from gongshu.catalog.vocab import DATA_ELEMENTS

WORD = re.compile(r"^\w+$")
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "是",
        "在",
        "有",
        "哪些",
        "哪个",
        "什么",
        "叫",
        "名为",
        "字段",
        "资源",
        "包含",
        "含有",
        "一个",
        "这个",
        "那些",
    ]
)
# Government data vocabulary jieba's general dictionary splits too finely.
EXTRA_WORDS = (
    *DATA_ELEMENTS,
    "统一社会信用代码",
    "公民身份号码",
    "身份证号",
    "不动产",
    "公积金",
    "营业执照",
    "行政处罚",
    "行政许可",
    "社保",
    "参保",
    "工单",
    "办件",
    "刷卡",
    "婚姻登记",
    "户籍",
    "一网通办",
)

_lock = threading.Lock()
_ready = False


def _init() -> None:
    global _ready
    if _ready:
        return
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            for w in EXTRA_WORDS:
                jieba.add_word(w, freq=200000)
            jieba.initialize()
            _ready = True


@lru_cache(maxsize=200_000)
def index_tokens(text: str) -> str:
    """Search-mode tokens of a document field, lower-cased and space-separated."""
    if not text:
        return ""
    _init()
    return " ".join(t.lower() for t in jieba.cut_for_search(text) if WORD.match(t))


@lru_cache(maxsize=4096)
def query_terms(q: str) -> tuple[tuple[str, ...], ...]:
    """Each query word with its alternatives: ``(word, part1, part2, …)``.

    A word matches a document containing the word itself, or containing all its parts.
    """
    _init()
    terms: list[tuple[str, ...]] = []
    for word in jieba.cut(q.strip()):
        w = word.lower()
        if not WORD.match(w) or w in STOPWORDS:
            continue
        parts = tuple(p.lower() for p in jieba.cut_for_search(word) if WORD.match(p) and p != word)
        term = (w, *parts) if len(parts) > 1 else (w,)
        if term not in terms:
            terms.append(term)
    return tuple(terms[:12])


def fts5_query(terms: tuple[tuple[str, ...], ...]) -> str:
    def one(term: tuple[str, ...]) -> str:
        word = f'"{term[0]}"'
        if len(term) == 1:
            return word
        parts = " AND ".join(f'"{p}"' for p in term[1:])
        return f"({word} OR ({parts}))"

    return " AND ".join(one(t) for t in terms)


def ts_query(terms: tuple[tuple[str, ...], ...]) -> str:
    def one(term: tuple[str, ...]) -> str:
        if len(term) == 1:
            return f"'{term[0]}'"
        parts = " & ".join(f"'{p}'" for p in term[1:])
        return f"('{term[0]}' | ({parts}))"

    return " & ".join(one(t) for t in terms)
