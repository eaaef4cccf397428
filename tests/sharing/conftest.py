from tests.warehouse.conftest import spark_session  # noqa: F401  (shared Spark session fixture)
