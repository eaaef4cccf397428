"""Ingest settings, from ``GONGSHU_INGEST_*`` environment variables (docs/ingest.md)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGSHU_INGEST_", env_file=None, extra="ignore")

    file_roots: str = Field(
        "",
        description="服务器上允许作为文件来源的目录（以冒号分隔），另含数据目录下 inbox/ 与 uploads/",
    )
    scheduler: bool = Field(True, description="服务进程内按计划自动拉取来源")
    scheduler_interval_s: float = Field(30.0, description="检查到期来源的间隔（秒）")
    workers: int = Field(2, description="服务进程内同时执行的归集任务数")
    parse_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="一个 CSV 归集任务内同时解析、转换分段的线程数（0：按 CPU 核数，最多 4）",
    )
    iot_flush_interval_s: float = Field(5.0, description="物联数据写入数仓的间隔（秒）")
    iot_flush_rows: int = Field(50_000, description="缓冲达到该条数时立即写入")
    iot_max_batch: int = Field(5_000, description="单次上报的最大读数条数")
    demo_rows: float = Field(
        1.0, description="示例市归集行数系数（1 约为 100 万人口；测试用 0.01 加快建城）"
    )


@lru_cache
def ingest_settings() -> IngestSettings:
    return IngestSettings()
