"""示例市 demo loads (filled in below)."""

from __future__ import annotations

from gongshu.demo import DemoContext


def build(ctx: DemoContext) -> None:
    return None
