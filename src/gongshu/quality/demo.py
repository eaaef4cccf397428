"""Demo."""

from gongshu.demo import DemoContext


def build(ctx: DemoContext) -> None:
    return None
