"""Open-data settings, read from ``GONGSHU_OPEN_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGSHU_OPEN_", env_file=None, extra="ignore")

    anon_rate_per_min: int = Field(600, description="匿名调用（按 IP）每分钟上限")
    developer_rate_per_min: int = Field(1200, description="开发者应用密钥每分钟调用上限")
    require_key_for_rows: bool = Field(
        True, description="行数据接口 /api/v1/open 是否必须带应用密钥"
    )
    page_index_mb: int = Field(
        128, description="深分页索引（按排序保存主键）的内存上限（MB），0 为不使用"
    )


@lru_cache
def open_settings() -> OpenSettings:
    return OpenSettings()
