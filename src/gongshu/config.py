"""Settings, read from the environment with the prefix ``GONGSHU_``.

Every setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INSECURE_DEV_KEY = "gongshu-dev-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGSHU_", env_file=None, extra="ignore")

    data_dir: Path = Field(Path("./var"), description="数据目录：控制库、数仓与上传文件")
    database_url: str = Field("", description="控制面数据库 URL；默认 data_dir 下的 SQLite 文件")
    warehouse_url: str = Field("", description="数仓 URL；默认 data_dir 下的 DuckDB 文件")
    secret_key: str = Field(INSECURE_DEV_KEY, description="会话签名密钥，生产环境必须修改")
    host: str = Field("127.0.0.1", description="监听地址")
    port: int = Field(8000, description="监听端口")
    max_json_bytes: int = Field(1_048_576, description="JSON 请求体上限（字节）")
    max_upload_bytes: int = Field(2_147_483_648, description="上传文件上限（字节）")
    session_max_age_s: int = Field(8 * 3600, description="登录会话有效期（秒）")
    secure_cookies: bool = Field(False, description="仅通过 HTTPS 发送会话 Cookie")
    timezone: str = Field("Asia/Shanghai", description="页面显示时区")

    @model_validator(mode="after")
    def _defaults_from_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'gongshu.db').as_posix()}"
        if not self.warehouse_url:
            self.warehouse_url = f"duckdb:///{(self.data_dir / 'warehouse.duckdb').as_posix()}"
        return self

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
