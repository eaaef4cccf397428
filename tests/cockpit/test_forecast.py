"""Model selection, intervals and anomaly flags of the cockpit forecaster."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from gongshu.cockpit import forecast as fc
from gongshu.cockpit.forecast import (
    DEFAULT_MODELS,
    SEASONAL_MODELS,
    ForecastResult,
    anomaly_table,
    flag_anomalies,
    forecast,
    forecast_many,
)

SIGMA = 3.0


def daily_weekly(seed: int, days: int = 730, start: str = "2023-01-01") -> pd.Series:
    """Level 100, trend, a weekly pattern of ±10 and N(0, 3) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype=float)
    weekly = np.array([8.0, 10.0, 6.0, 0.0, -4.0, -10.0, -10.0])[np.arange(days) % 7]
    y = 100 + 0.03 * t + weekly + rng.normal(0, SIGMA, days)
    return pd.Series(y, index=pd.date_range(start, periods=days, freq="D"), name="visits")


def monthly_yearly(seed: int, years: int = 8, freq: str = "MS") -> pd.Series:
    rng = np.random.default_rng(seed)
    n = 12 * years
    t = np.arange(n, dtype=float)
    y = 500 + 2 * t + 60 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 10, n)
    return pd.Series(y, index=pd.date_range("2017-01-01", periods=n, freq=freq))


def assert_interval_sane(result: ForecastResult) -> None:
    assert len(result.forecast) == result.horizon
    assert np.all(np.isfinite(result.forecast))
    assert np.all(np.isfinite(result.lower)) and np.all(np.isfinite(result.upper))
    assert np.all(result.lower <= result.forecast + 1e-9)
    assert np.all(result.forecast <= result.upper + 1e-9)


# --------------------------------------------------------------------------- selection


def test_daily_weekly_series_chooses_seasonal_model_that_beats_naive() -> None:
    result = forecast(daily_weekly(seed=1), horizon=14)

    assert result.model in SEASONAL_MODELS
    assert result.selection_metric == "mape"
    assert result.backtest_folds == 3 and result.backtest_horizon == 14
    assert result.mape < result.naive_mape
    assert result.naive_mape == result.scores["naive"].mape
    # Selection picks the lowest backtest MAPE among the evaluated candidates.
    assert result.mape == min(s.mape for s in result.scores.values())
    assert {"naive", "snaive", "ses", "holt_damped", "hw_add"} <= set(result.scores)
    assert all(s.points == 3 * 14 for s in result.scores.values())
    assert_interval_sane(result)


def test_monthly_series_with_yearly_cycle_chooses_seasonal_model() -> None:
    series = monthly_yearly(seed=2)
    result = forecast(series, horizon=12)

    assert result.freq == "M" and result.alias == "MS"
    assert result.model in SEASONAL_MODELS
    assert result.mape < result.naive_mape
    assert result.scores[result.model].mape < 0.5 * result.naive_mape
    assert "hw_add_yearly" not in result.scores  # daily-only candidate
    # The forecast keeps the seasonal shape: the peak month (April) beats the trough.
    april = result.forecast[result.forecast.index.month == 4].iloc[0]
    october = result.forecast[result.forecast.index.month == 10].iloc[0]
    assert april - october > 80
    assert_interval_sane(result)


def test_random_walk_is_not_forced_into_a_seasonal_model_when_naive_is_better() -> None:
    rng = np.random.default_rng(3)
    y = 1000 + np.cumsum(rng.normal(0, 5, 400))
    series = pd.Series(y, index=pd.date_range("2024-01-01", periods=400, freq="D"))
    result = forecast(series, horizon=7)

    assert result.mape <= result.naive_mape
    assert result.mape == min(s.mape for s in result.scores.values())


def test_backtest_forecasts_equal_statsmodels_forecasts_from_each_origin() -> None:
    """The backtest computes ETS forecasts from smoothed states; check them against
    statsmodels' own forecast of a model run up to each origin with the same parameters."""
    prep = fc._prepare(daily_weekly(seed=4, days=300), "D")
    origins, steps = fc._plan(len(prep.y), 10, prep.period, 3)
    for cand in fc._candidates(prep, ["ses", "holt_damped", "hw_add", "hw_mul"]):
        assert isinstance(cand, fc._Ets)
        ours = cand.backtest(prep.y, origins, steps)
        train = cand._train
        known = {"initial_level": train.initial_level}
        if cand.spec["trend"]:
            known["initial_trend"] = train.initial_trend
        if cand.seasonal:
            known["initial_seasonal"] = train.initial_seasonal
        for row, origin in zip(ours, origins, strict=True):
            model = ETSModel(
                prep.y[:origin] / cand._unit, initialization_method="known", **known, **cand.spec
            )
            theirs = model.smooth(train.params).forecast(steps) * cand._unit
            np.testing.assert_allclose(row, theirs, rtol=1e-9, err_msg=cand.name)


def test_choice_and_forecast_do_not_depend_on_the_unit() -> None:
    yuan = daily_weekly(seed=15, days=500)
    yi_yuan = yuan * 1e-8  # the same indicator in 亿元
    a, b = forecast(yuan, horizon=7), forecast(yi_yuan, horizon=7)
    assert a.model == b.model
    assert a.selection_metric == b.selection_metric
    np.testing.assert_allclose(b.forecast * 1e8, a.forecast, rtol=1e-3)
    np.testing.assert_allclose(b.upper * 1e8, a.upper, rtol=1e-3)
    for name, score in a.scores.items():
        assert b.scores[name].mape == pytest.approx(score.mape, rel=1e-3)


def test_sarima_is_opt_in_and_scored_when_requested() -> None:
    series = monthly_yearly(seed=5, years=6)
    default = forecast(series, horizon=6)
    with_sarima = forecast(series, horizon=6, candidates=[*DEFAULT_MODELS, "sarima"])

    assert "sarima" not in default.scores
    assert math.isfinite(with_sarima.scores["sarima"].mape)
    assert with_sarima.scores["sarima"].mape < with_sarima.naive_mape
    assert_interval_sane(with_sarima)


# --------------------------------------------------------------------------- intervals


def test_forecast_intervals_cover_about_the_nominal_share_of_held_out_points() -> None:
    inside = total = 0
    widths: list[float] = []
    for seed in range(8):
        series = daily_weekly(seed=100 + seed, days=730 + 28)
        train, test = series.iloc[:-28], series.iloc[-28:]
        result = forecast(train, horizon=28, level=0.9)
        assert result.index.equals(test.index)
        inside += int(((test >= result.lower) & (test <= result.upper)).sum())
        total += len(test)
        widths.append(float((result.upper - result.lower).mean()))
    coverage = inside / total
    assert 0.78 <= coverage <= 0.98, coverage
    # A 90% normal interval for N(0, 3) noise is about 2·1.645·3 ≈ 9.9 wide.
    assert 8 < np.mean(widths) < 16


def test_higher_level_gives_wider_intervals() -> None:
    series = daily_weekly(seed=6)
    narrow = forecast(series, horizon=7, level=0.8)
    wide = forecast(series, horizon=7, level=0.99)
    assert narrow.model == wide.model
    assert np.all((wide.upper - wide.lower) > (narrow.upper - narrow.lower))


# --------------------------------------------------------------------------- anomalies


def test_injected_spike_and_dip_are_flagged_and_normal_days_mostly_not() -> None:
    clean = daily_weekly(seed=7)
    series = clean.copy()
    spike, dip = pd.Timestamp("2024-03-15"), pd.Timestamp("2023-09-05")
    series[spike] += 6 * SIGMA
    series[dip] -= 6 * SIGMA

    result = forecast(series, horizon=14)
    flags = flag_anomalies(series, result)

    assert flags.index.equals(series.index) and flags.dtype == bool
    assert flags[spike] and flags[dip]
    others = flags.drop([spike, dip])
    assert others.mean() < 0.05, others.mean()

    table = anomaly_table(series, result)
    assert list(table.columns) == ["expected", "actual", "lower", "upper", "direction"]
    assert table.loc[spike, "direction"] == "above"
    assert table.loc[dip, "direction"] == "below"
    assert table.loc[spike, "actual"] == series[spike]
    # The expectation tracks the clean value, not the spike.
    assert abs(table.loc[spike, "expected"] - clean[spike]) < 2 * SIGMA
    assert len(table) == int(flags.sum())


def test_anomaly_band_uses_its_own_level() -> None:
    series = daily_weekly(seed=8)
    loose = forecast(series, horizon=7, anomaly_level=0.8)
    strict = forecast(series, horizon=7, anomaly_level=0.999)
    assert flag_anomalies(series, loose).sum() > flag_anomalies(series, strict).sum()
    # A ±z·σ band around the one-step prediction: width ≈ 2·3.29·3 ≈ 20 at 99.9%.
    width = (strict.fitted_upper - strict.fitted_lower).dropna()
    assert 14 < width.median() < 26


def test_flags_from_stored_bands_match_flags_from_result() -> None:
    series = daily_weekly(seed=9)
    series.iloc[500] += 8 * SIGMA
    result = forecast(series, horizon=7)
    stored = result.bands().reset_index(names="date").set_index("date")
    assert flag_anomalies(series, stored).equals(flag_anomalies(series, result))
    assert flag_anomalies(series, stored[["lower", "upper"]]).iloc[500]


# --------------------------------------------------------------------------- awkward input


def test_five_point_series_falls_back_to_naive() -> None:
    values = [12.0, 13.0, 12.5, 14.0, 13.5]
    series = pd.Series(values, index=pd.date_range("2024-05-01", periods=5, freq="D"))
    result = forecast(series, horizon=3)

    assert result.model == "naive"
    assert list(result.forecast) == [13.5, 13.5, 13.5]
    assert list(result.index) == list(pd.date_range("2024-05-06", periods=3, freq="D"))
    assert_interval_sane(result)
    # Uncertainty grows with the horizon for a random walk.
    width = (result.upper - result.lower).to_numpy()
    assert width[0] > 0 and width[2] > width[0]
    assert result.fitted.isna().iloc[0] and result.fitted.iloc[1] == 12.0


def test_single_point_series_gives_naive_forecast_without_interval() -> None:
    series = pd.Series([7.0], index=[pd.Timestamp("2024-05-01")])
    result = forecast(series, horizon=2, freq="D")
    assert result.model == "naive"
    assert list(result.forecast) == [7.0, 7.0]
    assert result.lower.isna().all() and result.upper.isna().all()
    assert result.backtest_folds == 0 and result.scores == {}
    assert not flag_anomalies(series, result).any()


def test_constant_series() -> None:
    series = pd.Series(42.0, index=pd.date_range("2024-01-01", periods=90, freq="D"))
    result = forecast(series, horizon=5)

    assert result.model == "naive"
    assert (result.forecast == 42.0).all()
    assert (result.lower == 42.0).all() and (result.upper == 42.0).all()
    assert result.scores["naive"].mape == 0
    assert any("constant series" in note for note in result.notes)
    assert not flag_anomalies(series, result).any()
    changed = series.copy()
    changed.iloc[40] = 43.0
    assert flag_anomalies(changed, result).sum() == 1


def test_series_with_zeros_is_scored_by_mase() -> None:
    rng = np.random.default_rng(10)
    days = 400
    weekly = np.array([3.0, 3.0, 3.0, 3.0, 3.0, 0.3, 0.3])[np.arange(days) % 7]
    series = pd.Series(
        rng.poisson(weekly).astype(float),
        index=pd.date_range("2024-01-01", periods=days, freq="D"),
    )
    assert (series == 0).mean() > 0.2
    result = forecast(series, horizon=7)

    assert result.selection_metric == "mase"
    assert "hw_mul" not in result.scores  # needs strictly positive values
    chosen = result.scores[result.model]
    assert chosen.mase == min(s.mase for s in result.scores.values())
    assert chosen.mase < result.scores["naive"].mase
    assert math.isfinite(chosen.mape) and math.isfinite(chosen.smape)
    assert_interval_sane(result)


def test_gaps_and_missing_values_are_interpolated_and_never_flagged() -> None:
    full = daily_weekly(seed=11, days=400)
    gap = pd.date_range("2023-09-01", periods=10, freq="D")
    series = full.drop(gap)  # missing rows
    nan_days = series.index[[50, 120, 121, 300]]
    series[nan_days] = np.nan  # present but missing values
    series = pd.concat([series, pd.Series([np.nan], index=[full.index[-1] + pd.Timedelta("1D")])])

    result = forecast(series, horizon=7)

    assert result.imputed.equals(pd.DatetimeIndex(sorted([*gap, *nan_days])))
    assert result.fitted.index.equals(full.index)  # regular grid, trailing NaN dropped
    assert result.index[0] == full.index[-1] + pd.Timedelta("1D")
    assert result.model in SEASONAL_MODELS
    assert all(s.points <= 3 * 7 for s in result.scores.values())
    assert any("missing periods" in note for note in result.notes)
    flags = flag_anomalies(series, result)
    assert not flags[nan_days].any()
    assert_interval_sane(result)


def test_unsorted_duplicate_and_intraday_timestamps_are_put_on_the_daily_grid() -> None:
    base = daily_weekly(seed=12, days=120)
    shifted = base.copy()
    shifted.index = shifted.index + pd.Timedelta("9h")  # reported at 09:00
    extra = pd.Series([base.iloc[10] + 2.0], index=[base.index[10] + pd.Timedelta("15h")])
    series = pd.concat([shifted, extra]).sample(frac=1.0, random_state=0)

    result = forecast(series, horizon=3)
    assert result.fitted.index.equals(base.index)
    assert result.index[0] == pd.Timestamp("2023-05-01")
    expected_day10 = (base.iloc[10] + base.iloc[10] + 2.0) / 2  # duplicates are averaged
    naive = fc._prepare(series, "D")
    assert naive.y[10] == pytest.approx(expected_day10)
    assert flag_anomalies(series, result).index.equals(series.index)


def test_candidate_failures_are_skipped_with_a_note() -> None:
    # Training data all zeros: the ETS likelihood is degenerate and fitting fails.
    values = np.r_[np.zeros(119), 50.0]
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=120, freq="D"))
    result = forecast(series, horizon=3)

    assert np.all(np.isfinite(result.forecast))
    noted = {note.split(":")[0] for note in result.notes}
    for name in DEFAULT_MODELS:
        assert name in result.scores or name in noted, name
    assert "ses" in noted


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("index", "freq", "expected"),
    [
        (
            pd.date_range("2024-01-01", periods=40, freq="D"),
            None,
            pd.date_range("2024-02-10", periods=4, freq="D"),
        ),
        (
            pd.date_range("2021-01-01", periods=40, freq="MS"),
            None,
            pd.date_range("2024-05-01", periods=4, freq="MS"),
        ),
        (
            pd.date_range("2021-01-31", periods=40, freq="ME"),
            "M",
            pd.date_range("2024-05-31", periods=4, freq="ME"),
        ),
        (
            pd.date_range("2024-03-01 05:00", periods=100, freq="h"),
            None,
            pd.date_range("2024-03-05 09:00", periods=4, freq="h"),
        ),
        (
            pd.date_range("2024-01-01", periods=40, freq="D", tz="Asia/Shanghai"),
            "D",
            pd.date_range("2024-02-10", periods=4, freq="D", tz="Asia/Shanghai"),
        ),
    ],
)
def test_horizon_dates_continue_the_index(
    index: pd.DatetimeIndex, freq: str | None, expected: pd.DatetimeIndex
) -> None:
    rng = np.random.default_rng(13)
    series = pd.Series(50 + rng.normal(0, 1, len(index)), index=index)
    result = forecast(series, horizon=4, freq=freq)  # type: ignore[arg-type]
    assert list(result.index) == list(expected)


def test_mid_month_stamps_are_moved_to_month_start() -> None:
    index = pd.DatetimeIndex([f"2023-{m:02d}-15" for m in range(1, 13)])
    series = pd.Series(np.arange(12, dtype=float), index=index)
    result = forecast(series, horizon=2, freq="M")
    assert result.alias == "MS"
    assert list(result.index) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]


@pytest.mark.parametrize(
    ("series", "kwargs", "error"),
    [
        (pd.Series([1.0, 2.0]), {"horizon": 3}, TypeError),
        (daily_weekly(0, days=30), {"horizon": 0}, ValueError),
        (daily_weekly(0, days=30), {"horizon": 3, "level": 1.5}, ValueError),
        (daily_weekly(0, days=30), {"horizon": 3, "candidates": ["prophet"]}, ValueError),
        (
            pd.Series([np.nan, np.nan], index=pd.date_range("2024-01-01", periods=2)),
            {"horizon": 3},
            ValueError,
        ),
        (
            pd.Series(1.0, index=pd.date_range("2024-01-01", periods=10, freq="W")),
            {"horizon": 3},
            ValueError,
        ),
    ],
)
def test_bad_input_is_rejected(series: pd.Series, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        forecast(series, **kwargs)


def test_forecast_many_in_worker_processes_matches_serial() -> None:
    batch = {f"s{i}": daily_weekly(seed=20 + i, days=200) for i in range(3)}
    serial = forecast_many(batch, horizon=7)
    parallel = forecast_many(batch, horizon=7, workers=2)
    assert set(parallel) == set(batch)
    for key in batch:
        assert parallel[key].model == serial[key].model
        pd.testing.assert_series_equal(parallel[key].forecast, serial[key].forecast)


def test_blas_threads_are_limited_during_fits_and_restored_afterwards() -> None:
    setters = fc._blas_thread_setters()
    if not setters:
        pytest.skip("no OpenBLAS with a thread-local setter in this process")
    before = [setter(3) for setter in setters]  # a recognisable value to restore to
    try:
        with fc._one_blas_thread():
            inside = [setter(1) for setter in setters]
        forecast(daily_weekly(seed=14, days=100), horizon=3)
        after = [setter(3) for setter in setters]
    finally:
        for setter, count in zip(setters, before, strict=True):
            setter(count)
    assert inside == [1] * len(setters)
    assert after == [3] * len(setters)
