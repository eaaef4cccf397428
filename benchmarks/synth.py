"""Throughput of the demo-city synthetic data generators.

Usage: ``PYTHONPATH=src python benchmarks/synth.py [--scale 1.0] [--batch-size 200000]``.
Streams every generator at demo size (× ``--scale``), discarding the batches, and prints
one JSON object: rows and rows/s per generator, plus the total seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from gongshu.demo.synth import GENERATORS

TODAY = dt.date(2026, 1, 1)
# demo sizes; for air_quality and bus_daily ``n`` is stations / routes
SIZES = {
    "persons": 1_000_000,
    "enterprises": 100_000,
    "social_security": 600_000,
    "housing_fund": 200_000,
    "real_estate": 200_000,
    "marriages": 50_000,
    "licences": 50_000,
    "penalties": 20_000,
    "hotline": 1_000_000,
    "air_quality": 12,
    "bus_daily": 120,
    "service_cases": 300_000,
}
SERIES = {"air_quality", "bus_daily"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=200_000)
    args = parser.parse_args()
    persons_n = max(1, int(SIZES["persons"] * args.scale))
    enterprises_n = max(1, int(SIZES["enterprises"] * args.scale))
    result: dict[str, object] = {"scale": args.scale, "batch_size": args.batch_size}
    total = time.perf_counter()
    for name, gen in GENERATORS.items():
        n = SIZES[name] if name in SERIES else max(1, int(SIZES[name] * args.scale))
        kwargs: dict[str, object] = {
            "seed": 20260101,
            "today": TODAY,
            "batch_size": args.batch_size,
        }
        if "persons_n" in gen.generate.__code__.co_varnames:
            kwargs["persons_n"] = persons_n
        if "enterprises_n" in gen.generate.__code__.co_varnames:
            kwargs["enterprises_n"] = enterprises_n
        started = time.perf_counter()
        rows = sum(batch.num_rows for batch in gen.generate(n, **kwargs))
        seconds = time.perf_counter() - started
        result[name] = {
            "rows": rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds),
        }
    result["total_s"] = round(time.perf_counter() - total, 2)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
