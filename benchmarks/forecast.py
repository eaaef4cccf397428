"""Time cockpit model selection over 40 synthetic two-year daily indicators.

Usage: ``PYTHONPATH=src python benchmarks/forecast.py [--series 40] [--days 730]
[--horizon 30] [--workers 2]``. Prints how often each model was chosen, then one JSON
object as the last line. ``serial_s`` is one process, ``total_s`` uses ``--workers``
processes; MAPEs are backtest MAPEs in percent over the series selected by MAPE.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import Counter

import numpy as np
import pandas as pd

from gongshu.cockpit.forecast import ForecastResult, forecast_many

KINDS = ("weekly_trend", "weekly_mul", "weekly_yearly", "random_walk", "counts_gaps")


def synthetic(i: int, days: int) -> pd.Series:
    """One indicator; the kind cycles so the batch looks like a mixed cockpit."""
    rng = np.random.default_rng(1000 + i)
    t = np.arange(days, dtype=float)
    index = pd.date_range("2023-01-01", periods=days, freq="D")
    weekly = np.sin(2 * np.pi * t / 7 + rng.uniform(0, 2 * np.pi))
    yearly = np.sin(2 * np.pi * t / 365.25 + rng.uniform(0, 2 * np.pi))
    base = rng.uniform(50, 5000)
    kind = KINDS[i % len(KINDS)]
    if kind == "weekly_trend":
        y = base + base * 2e-4 * t + 0.1 * base * weekly + rng.normal(0, 0.03 * base, days)
    elif kind == "weekly_mul":
        y = base * (1 + 3e-4 * t) * (1 + 0.2 * weekly) * rng.lognormal(0, 0.04, days)
    elif kind == "weekly_yearly":
        y = base + 0.08 * base * weekly + 0.15 * base * yearly + rng.normal(0, 0.03 * base, days)
    elif kind == "random_walk":
        y = base + np.cumsum(rng.normal(0, 0.01 * base, days))
    else:  # small counts with zeros and 5% missing days
        y = rng.poisson(3 + 2 * weekly).astype(float)
        y[rng.random(days) < 0.05] = np.nan
    return pd.Series(y, index=index, name=f"indicator_{i:02d}")


def run(
    series: dict[str, pd.Series], horizon: int, workers: int
) -> tuple[float, float, dict[str, ForecastResult]]:
    """Wall-clock and CPU seconds (this process only) of one batch."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = forecast_many(series, horizon, freq="D", workers=workers)
    return time.perf_counter() - wall, time.process_time() - cpu, results


def finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return round(float(np.mean(finite)), 3) if finite else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()

    batch = {s.name: s for s in (synthetic(i, args.days) for i in range(args.series))}
    run({k: batch[k] for k in list(batch)[:2]}, args.horizon, 1)  # warm caches and imports
    serial_s, serial_cpu_s, chosen = run(batch, args.horizon, 1)
    total_s, _, parallel = run(batch, args.horizon, args.workers)
    assert {k: r.model for k, r in chosen.items()} == {k: r.model for k, r in parallel.items()}

    by_mape = [r for r in chosen.values() if r.selection_metric == "mape"]
    for name, count in Counter(r.model for r in chosen.values()).most_common():
        print(f"{name:>14}: {count}")
    print(
        json.dumps(
            {
                "series": args.series,
                "days": args.days,
                "horizon": args.horizon,
                "workers": args.workers,
                "total_s": round(total_s, 3),
                "serial_s": round(serial_s, 3),
                "per_series_ms": round(1000 * total_s / args.series, 1),
                "per_series_serial_ms": round(1000 * serial_s / args.series, 1),
                "serial_cpu_s": round(serial_cpu_s, 3),
                "load_avg_1m": round(os.getloadavg()[0], 2),  # other work on the machine
                "mean_mape_best": finite_mean([r.mape for r in by_mape]),
                "mean_mape_naive": finite_mean([r.naive_mape for r in by_mape]),
                "series_scored_by_mase": args.series - len(by_mape),
                "models": dict(Counter(r.model for r in chosen.values())),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
