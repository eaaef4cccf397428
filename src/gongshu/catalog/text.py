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
    # Question words, so "哪些资源有字段叫…" segments cleanly into stop words.
    "字段",
    "数据项",
    "信息项",
    "哪些",
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


def _doc_grams(word: str) -> tuple[str, ...]:
    """The sub-words jieba's search mode emits inside ``word`` (2- and 3-grams in its
    dictionary): a document holding ``word`` as a token holds all of these too."""
    freq = jieba.dt.FREQ
    grams: list[str] = []
    for n in (2, 3):
        for i in range(len(word) - n + 1):
            g = word[i : i + n]
            if g != word and freq.get(g) and g.lower() not in grams:
                grams.append(g.lower())
    return tuple(grams)


@lru_cache(maxsize=4096)
def query_terms(q: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each query word as ``(op, tokens)``: ``("=", (w,))`` the word itself;
    ``("&", parts)`` all of its sub-words (which every document containing the word has,
    and documents that split it differently have too); ``("|", (w, *parts))`` the word
    or all of its parts, when its sub-words alone would be too loose."""
    _init()
    terms: list[tuple[str, tuple[str, ...]]] = []
    for word in jieba.cut(q.strip()):
        w = word.lower()
        if not WORD.match(w) or w in STOPWORDS:
            continue
        grams = _doc_grams(word)
        parts = tuple(p.lower() for p in jieba.cut_for_search(word) if WORD.match(p) and p != word)
        if len(grams) >= 2 and set(parts) <= set(grams):
            term = ("&", grams)
        elif len(parts) > 1:
            term = ("|", (w, *parts))
        else:
            term = ("=", (w,))
        if term not in terms:
            terms.append(term)
    return tuple(terms[:12])


def fts5_query(terms: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    def one(op: str, toks: tuple[str, ...]) -> str:
        quoted = [f'"{t}"' for t in toks]
        if op == "=":
            return quoted[0]
        if op == "&":
            return "(" + " AND ".join(quoted) + ")"
        return f"({quoted[0]} OR (" + " AND ".join(quoted[1:]) + "))"

    return " AND ".join(one(op, toks) for op, toks in terms)


def ts_query(terms: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    def one(op: str, toks: tuple[str, ...]) -> str:
        quoted = [f"'{t}'" for t in toks]
        if op == "=":
            return quoted[0]
        if op == "&":
            return "(" + " & ".join(quoted) + ")"
        return f"({quoted[0]} | (" + " & ".join(quoted[1:]) + "))"

    return " & ".join(one(op, toks) for op, toks in terms)
