"""公数 gongshu: an integrated public data platform for city data bureaus."""

__version__ = "0.1.0"
