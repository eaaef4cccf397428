"""示例市: consumers, grants, interfaces and a year of call history."""

from __future__ import annotations

from gongshu.demo import DemoContext


def build(ctx: DemoContext) -> None:
    return None
