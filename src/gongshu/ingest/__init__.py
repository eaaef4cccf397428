"""数据归集 (aggregation): see docs/ingest.md."""
