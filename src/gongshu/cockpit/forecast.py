"""Forecasts, prediction intervals and anomaly flags for cockpit indicators.

The cockpit (城市大脑驾驶舱) keeps every indicator as a time series. For each series this
module picks a forecasting model by backtest error, forecasts the next periods with a
prediction interval, and flags historical values that fall outside the model's
one-step-ahead interval. Everything here is a pure function of a ``pandas.Series`` with a
``DatetimeIndex``: no database, no web.

Input handling
--------------
* Frequency: ``"D"`` (daily), ``"M"`` (monthly) or ``"H"`` (hourly); inferred from the
  median spacing of the timestamps when not given (weekly or quarterly data is rejected).
* Timestamps are put on a regular grid: daily and hourly stamps are floored to the day or
  hour; monthly stamps stay month-start (``MS``) or month-end (``ME``) when they all are,
  otherwise they are moved to the month start. Several values in one period are averaged.
* NaN and infinite values are dropped. Missing periods between the first and last
  observation are filled by linear interpolation so that the models see a regular series.
  Filled periods are reported in ``ForecastResult.imputed``, are never scored in the
  backtest and are never flagged as anomalies. A long gap loses its seasonal pattern,
  which the models then learn less well; fill such gaps upstream if that matters.

Candidate models
----------------
Seasonal period ``m`` is 7 for daily, 12 for monthly and 24 for hourly data.

========================  ==============================================================
``naive``                 last value
``snaive``                value one season ago
``ses``                   simple exponential smoothing (ETS A,N,N)
``holt_damped``           Holt's linear trend, damped (ETS A,Ad,N)
``hw_add``                Holt-Winters, additive seasonality, damped trend (ETS A,Ad,A)
``hw_mul``                Holt-Winters, multiplicative seasonality and errors (ETS M,Ad,M);
                          only for strictly positive series
``hw_add_yearly``         daily series spanning at least two years only: a yearly cycle of
                          three Fourier harmonics (plus intercept and linear time, by least
                          squares) is removed, ETS A,Ad,A with the weekly period models the
                          rest, and the yearly cycle is added back to the forecast
``sarima``                optional, only when asked for via ``candidates``: SARIMA with small
                          fixed orders, (1,0,0)(0,1,1)m for daily and hourly data,
                          (0,1,1)(0,1,1)12 for monthly data ("airline" model)
========================  ==============================================================

The exponential smoothing models are statsmodels' ``ETSModel`` with heuristic initial
states (Hyndman & Athanasopoulos, FPP3 §8), so that only the smoothing parameters are
estimated. Estimating the initial states as well made each fit several times slower
(4 to 20 times in our measurements) for the same backtest accuracy on the benchmark
series. The models run on the series divided by its mean absolute value, so that the
optimiser's relative stopping rule, and hence the choice, does not depend on the unit
(元 or 亿元). SARIMA is left out by default because one fit on two years of daily data
costs as much as the whole default set.

A candidate is skipped, never fatal, when the history is too short for it (``ses`` needs
10 training points, ``holt_damped`` 20, the Holt-Winters models two full seasons, the
yearly model a year of training data and two years in total, ``sarima`` three seasons),
when the series is constant (only ``naive`` then), when the fit raises, does not converge
or produces non-finite values. The reason ends up in ``ForecastResult.notes``.

Selection: rolling-origin backtest
----------------------------------
The last part of the history is cut into ``folds`` (default 3) test windows of
``horizon`` periods each, ending at the last observation; e.g. 730 daily points with a
30-day horizon give forecast origins 640, 670 and 700. Each candidate is fitted once, on
the data before the first origin; for the later origins the same parameters are run
forward over the data up to that origin (``ETSModel.smooth``, ``SARIMAXResults.apply``)
and the model forecasts ``horizon`` periods from its state there. No fold sees data after
its origin, and the fitting cost is one fit per candidate instead of one per fold. When
the history is short, the windows are shortened and may overlap; below three points
there is no backtest and ``naive`` is used.

Errors are pooled over all folds and steps, on observed (not interpolated) points only:

* MAPE, in percent, over actual values that are not zero;
* sMAPE, in percent (``200·|e| / (|y| + |ŷ|)``);
* MASE: mean absolute error divided by the in-sample mean absolute error of the seasonal
  naive rule (lag ``m``, or 1 without seasonality) on the first training window.

The model with the lowest MAPE wins. When the scored actual values come near zero (any of
them within 1% of the median absolute value of the series), MAPE is meaningless and MASE
decides instead; ``ForecastResult.selection_metric`` says which. Ties go to the simpler
model (the order of the table above). The winner is then refitted on the whole history,
warm-started from its backtest parameters; if that fails, the backtest parameters are
used as they are, and if that fails too, the next best model is tried, down to ``naive``.

Prediction intervals
--------------------
* ETS models: statsmodels' own intervals (``ETSResults.get_prediction``): exact formulas
  for the additive-error models, 500 seeded simulations for ``hw_mul``. For
  ``hw_add_yearly`` the yearly cycle is treated as known and added to both bounds.
* SARIMA: ``get_forecast().conf_int()``.
* ``naive`` and ``snaive``: empirical. The rule is evaluated at every origin of the
  history, and the quantiles of its actual h-step errors give the bounds for step h.
  With fewer than 30 such errors the normal approximation ``σ·√k`` is used instead
  (``k`` = steps for naive, whole seasons for seasonal naive; FPP3 §5.5).

Anomalies
---------
For the chosen model the one-step-ahead in-sample predictions (``fitted``) are compared
with the observations. The band is ``fitted ± z·s`` where ``z`` is the normal quantile
for ``anomaly_level`` (default 0.99, stricter than the forecast ``level`` because a 95%
band flags one normal day in twenty) and ``s`` is a robust scale of the residuals
(1.4826 × median absolute deviation), so that the anomalies do not widen their own band.
For ``hw_mul`` the band is relative: ``fitted × (1 ± z·s)`` with ``s`` from relative
residuals. ``flag_anomalies`` marks observations outside the band, ``anomaly_table``
lists them with expected and actual value and the direction (``above``/``below``).

Speed
-----
A two-year daily series costs five ETS fits, one smoothing pass each and one refit: about
65 ms on one core. ``forecast_many`` spreads a batch over forked worker processes;
``benchmarks/forecast.py`` times 40 such series. During the fits OpenBLAS is limited to
one thread for the calling thread: scipy's optimiser makes many tiny BLAS calls, and
multi-threaded OpenBLAS made them up to nine times slower on a busy two-core machine.
"""

from __future__ import annotations

import ctypes
import functools
import math
import multiprocessing
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

__all__ = [
    "ALL_MODELS",
    "DEFAULT_MODELS",
    "SEASONAL_MODELS",
    "BacktestScore",
    "ForecastResult",
    "anomaly_table",
    "flag_anomalies",
    "forecast",
    "forecast_many",
]

Freq = Literal["D", "M", "H"]

# Order matters: it is the order of simplicity used to break ties.
ALL_MODELS: tuple[str, ...] = (
    "naive",
    "snaive",
    "ses",
    "holt_damped",
    "hw_add",
    "hw_mul",
    "hw_add_yearly",
    "sarima",
)
DEFAULT_MODELS: tuple[str, ...] = tuple(m for m in ALL_MODELS if m != "sarima")
SEASONAL_MODELS: frozenset[str] = frozenset(
    {"snaive", "hw_add", "hw_mul", "hw_add_yearly", "sarima"}
)

SEASONAL_PERIOD: dict[str, int] = {"D": 7, "M": 12, "H": 24}
_FREQ_ALIASES = {"d": "D", "h": "H", "MS": "M", "ME": "M"}  # pandas spellings
DEFAULT_FOLDS = 3
DEFAULT_ANOMALY_LEVEL = 0.99

_MIN_EMPIRICAL_ERRORS = 30  # below this, quantiles of h-step errors are too noisy
_SIM_REPETITIONS = 500  # simulated intervals (hw_mul only); 500 keeps 95% bounds stable
_YEAR_DAYS = 365.25
_YEARLY_HARMONICS = 3
_NEAR_ZERO_SHARE = 0.01  # actuals within 1% of the median |y| make MAPE meaningless
# L-BFGS-B stops at a relative log-likelihood change of factr·eps (~2e-6): a quarter fewer
# likelihood evaluations than scipy's default, with a log-likelihood loss below 0.1.
_ETS_FACTR = 1e10


@dataclass(frozen=True)
class BacktestScore:
    """Backtest errors of one candidate, pooled over all folds and forecast steps."""

    mape: float  # percent, over non-zero actuals; NaN if there are none
    smape: float  # percent
    mase: float  # relative to the in-sample seasonal naive rule
    points: int  # scored (observed) points
    folds: int


@dataclass
class ForecastResult:
    """The chosen model, its forecast and intervals, the backtest and the anomaly band.

    ``forecast``/``lower``/``upper`` are indexed by the next ``horizon`` periods;
    ``fitted``/``fitted_lower``/``fitted_upper`` by the (regularised) history. MAPE and
    sMAPE are in percent.
    """

    model: str
    freq: str  # "D" | "M" | "H"
    alias: str  # pandas offset alias of the grid: "D", "h", "MS" or "ME"
    horizon: int
    level: float
    forecast: pd.Series
    lower: pd.Series
    upper: pd.Series
    interval_method: str  # "exact", "simulated", "conf_int", "empirical", "normal", "none"
    scores: dict[str, BacktestScore]
    selection_metric: str  # "mape" or "mase"
    naive_mape: float
    backtest_folds: int
    backtest_horizon: int
    fitted: pd.Series
    fitted_lower: pd.Series
    fitted_upper: pd.Series
    anomaly_level: float
    imputed: pd.DatetimeIndex
    notes: list[str] = field(default_factory=list)

    @property
    def index(self) -> pd.DatetimeIndex:
        """The forecast dates."""
        return pd.DatetimeIndex(self.forecast.index)

    @property
    def mape(self) -> float:
        """Backtest MAPE of the chosen model (NaN without a backtest)."""
        score = self.scores.get(self.model)
        return score.mape if score else math.nan

    @property
    def backtest_mape(self) -> dict[str, float]:
        """Backtest MAPE per candidate that could be evaluated."""
        return {name: s.mape for name, s in self.scores.items()}

    def to_frame(self) -> pd.DataFrame:
        """Forecast with bounds as one frame (columns forecast, lower, upper)."""
        return pd.DataFrame({"forecast": self.forecast, "lower": self.lower, "upper": self.upper})

    def bands(self) -> pd.DataFrame:
        """In-sample anomaly band (columns expected, lower, upper)."""
        return pd.DataFrame(
            {"expected": self.fitted, "lower": self.fitted_lower, "upper": self.fitted_upper}
        )


# --------------------------------------------------------------------------- BLAS threads


@functools.cache
def _blas_thread_setters() -> tuple[Callable[[int], int], ...]:
    """``openblas_set_num_threads_local`` of every OpenBLAS loaded in this process.

    The optimiser behind every fit (scipy's L-BFGS-B) calls BLAS on tiny matrices. A
    multi-threaded OpenBLAS spin-waits its threads for each call, and on a busy two-core
    machine that made model selection nine times slower. The setter is thread-local, so
    the rest of the process (e.g. other web requests) keeps its BLAS threads. Linux only;
    elsewhere this is a no-op.
    """
    if not sys.platform.startswith("linux"):
        return ()
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return ()
    setters = []
    for path in sorted(paths):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local  # already loaded
        except (OSError, AttributeError):
            continue  # older OpenBLAS without the thread-local setter
        setter.argtypes = [ctypes.c_int]
        setter.restype = ctypes.c_int
        setters.append(setter)
    return tuple(setters)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    setters = _blas_thread_setters()
    previous = [setter(1) for setter in setters]
    try:
        yield
    finally:
        for setter, count in zip(setters, previous, strict=True):
            setter(count)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class _Prepared:
    y: np.ndarray
    index: pd.DatetimeIndex
    observed: np.ndarray
    freq: str
    alias: str
    period: int


def _infer_freq(index: pd.DatetimeIndex) -> str:
    if len(index) < 2:
        return "D"  # nothing to measure; a single point forecasts the same either way
    step = float(np.median(np.diff(index.asi8))) / 1e9 / 3600  # hours
    if step <= 2:
        return "H"
    if step <= 72:
        return "D"
    if 25 * 24 <= step <= 35 * 24:
        return "M"
    raise ValueError(
        f"cannot infer daily, monthly or hourly frequency (median spacing {step:.0f} h); pass freq"
    )


def _grid(index: pd.DatetimeIndex, freq: str) -> tuple[pd.DatetimeIndex, str]:
    """Map timestamps to their period on the regular grid and return the grid alias."""
    if freq == "D":
        return index.floor("D"), "D"
    if freq == "H":
        return index.floor("h"), "h"
    if freq != "M":
        raise ValueError(f"freq must be 'D', 'M' or 'H', not {freq!r}")
    midnight = bool((index == index.normalize()).all())
    tz = index.tz
    naive = index.tz_localize(None) if tz is not None else index
    periods = naive.to_period("M")
    if midnight and bool(index.is_month_end.all()) and not bool(index.is_month_start.all()):
        keys, alias = periods.to_timestamp(how="end").normalize(), "ME"
    else:
        keys, alias = periods.to_timestamp(how="start"), "MS"
    keys = pd.DatetimeIndex(keys)
    return (keys.tz_localize(tz) if tz is not None else keys), alias


def _prepare(series: pd.Series, freq: str | None) -> _Prepared:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise TypeError("series must have a DatetimeIndex")
    values = pd.to_numeric(series, errors="coerce").astype(float)
    values = values[np.isfinite(values.to_numpy())]
    if values.empty:
        raise ValueError("series has no finite values")
    values = values.sort_index()
    index = pd.DatetimeIndex(values.index)
    freq = freq or _infer_freq(index)
    keys, alias = _grid(index, freq)
    by_period = values.groupby(keys).mean()
    full = pd.date_range(by_period.index[0], by_period.index[-1], freq=alias)
    regular = by_period.reindex(full)
    observed = regular.notna().to_numpy()
    pos = np.arange(len(regular))
    y = np.interp(pos, pos[observed], regular.to_numpy()[observed])
    return _Prepared(y, full, observed, freq, alias, SEASONAL_PERIOD[freq])


# --------------------------------------------------------------------------- candidates


class _Skip(Exception):
    """A candidate cannot be used for this series; the message says why."""


@dataclass
class _Final:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    fitted: np.ndarray  # one-step in-sample predictions, NaN where undefined
    relative: bool  # multiplicative errors: the anomaly band scales with the level
    interval_method: str


def _rule_forecast(y: np.ndarray, origin: int, steps: int, lag: int) -> np.ndarray:
    """Naive (lag 1) or seasonal naive (lag m) forecast from data ``y[:origin]``."""
    j = np.arange(1, steps + 1)
    return y[origin - 1 + j - lag * np.ceil(j / lag).astype(int)]


class _Rule:
    """Naive rules: no fitting, empirical intervals from the rule's own past errors."""

    def __init__(self, name: str, lag: int) -> None:
        self.name = name
        self.lag = lag
        self.min_train = lag

    def backtest(self, y: np.ndarray, origins: Sequence[int], steps: int) -> np.ndarray:
        return np.stack([_rule_forecast(y, o, steps, self.lag) for o in origins])

    def final(self, y: np.ndarray, horizon: int, level: float) -> _Final:
        n = len(y)
        mean = _rule_forecast(y, n, horizon, self.lag)
        lower = np.full(horizon, np.nan)
        upper = np.full(horizon, np.nan)
        tail = (1 - level) / 2
        one_step = y[self.lag :] - y[: -self.lag] if n > self.lag else np.empty(0)
        with np.errstate(over="ignore"):  # huge values: an infinite sigma is the honest answer
            sigma = float(np.sqrt(np.mean(one_step**2))) if len(one_step) else math.nan
        z = NormalDist().inv_cdf(1 - tail)
        method = "empirical"
        for j in range(1, horizon + 1):
            seasons = math.ceil(j / self.lag)
            k = self.lag * seasons  # how far back the rule reaches for step j
            errors = y[k:] - y[:-k] if n > k else np.empty(0)
            if len(errors) >= _MIN_EMPIRICAL_ERRORS:
                lo, hi = np.quantile(errors, [tail, 1 - tail])
                lower[j - 1], upper[j - 1] = mean[j - 1] + lo, mean[j - 1] + hi
            else:
                method = "normal"
                width = z * sigma * math.sqrt(seasons if self.lag > 1 else j)
                lower[j - 1], upper[j - 1] = mean[j - 1] - width, mean[j - 1] + width
        if not math.isfinite(sigma):
            method = "none"
        fitted = np.full(n, np.nan)
        if n > self.lag:
            fitted[self.lag :] = y[: -self.lag]
        return _Final(mean, lower, upper, fitted, False, method)


def _fourier(t: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * np.outer(t, np.arange(1, _YEARLY_HARMONICS + 1)) / _YEAR_DAYS
    return np.hstack([np.sin(angle), np.cos(angle)])


def _yearly_component(y_fit: np.ndarray, length: int) -> np.ndarray:
    """Yearly cycle fitted on ``y_fit`` (intercept and linear time soak up level and trend
    so they do not leak into the harmonics), evaluated at positions ``0..length-1``."""
    t = np.arange(len(y_fit), dtype=float)
    design = np.column_stack([np.ones_like(t), t / max(len(t), 1), _fourier(t)])
    beta, *_ = np.linalg.lstsq(design, y_fit, rcond=None)
    return _fourier(np.arange(length, dtype=float)) @ beta[2:]


def _unit_of(y: np.ndarray) -> float:
    """Typical magnitude of ``y``. ETS runs on ``y / unit`` because the optimiser's
    stopping rule is relative to the log-likelihood, which shifts with the unit: without
    this the same indicator in 元 and in 亿元 could get different models."""
    unit = float(np.mean(np.abs(y)))
    return unit if math.isfinite(unit) and unit > 0 else 1.0


class _Ets:
    """An ETSModel specification, optionally on a series with the yearly cycle removed."""

    def __init__(
        self,
        name: str,
        *,
        error: str = "add",
        trend: str | None = None,
        seasonal: str | None = None,
        period: int = 1,
        yearly: bool = False,
    ) -> None:
        self.name = name
        self.spec: dict[str, Any] = {"error": error, "trend": trend, "damped_trend": bool(trend)}
        if seasonal:
            self.spec |= {"seasonal": seasonal, "seasonal_periods": period}
        self.seasonal = seasonal
        self.period = period
        self.yearly = yearly
        self.relative = error == "mul"
        if seasonal:
            # statsmodels' heuristic initialisation needs two full seasons and 10 points
            # of seasonally adjusted data.
            self.min_train = max(2 * period, 10 + 2 * (period // 2))
        else:
            self.min_train = 20 if trend else 10
        if yearly:
            self.min_train = max(self.min_train, 366)
        self._train: Any = None  # backtest fit, reused to warm-start the final fit
        self._unit = 1.0  # the model runs on y / unit, see _unit_of

    def _fit(self, y: np.ndarray | pd.Series, start_params: np.ndarray | None = None) -> Any:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = ETSModel(y, initialization_method="heuristic", **self.spec).fit(
                disp=False, start_params=start_params, factr=_ETS_FACTR
            )
        if not res.mle_retvals.get("converged", True):
            raise _Skip("did not converge")
        if not (np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.fittedvalues))):
            raise _Skip("non-finite fit")
        return res

    def _smooth(self, y: np.ndarray | pd.Series, fit: Any) -> Any:
        """Run ``fit``'s parameters and initial states over ``y`` (no estimation)."""
        known: dict[str, Any] = {"initial_level": fit.initial_level}
        if self.spec["trend"]:
            known["initial_trend"] = fit.initial_trend
        if self.seasonal:
            known["initial_seasonal"] = fit.initial_seasonal
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = ETSModel(y, initialization_method="known", **known, **self.spec)
            return model.smooth(fit.params)

    def _from_states(self, fit: Any, states: np.ndarray, origin: int, steps: int) -> np.ndarray:
        """ETS point forecast from the state after observation ``origin - 1`` (FPP3 §8.7)."""
        j = np.arange(1, steps + 1)
        level = states[origin - 1, 0]
        if self.spec["trend"]:
            phi = float(fit.damping_trend)
            mean = level + np.cumsum(phi**j) * states[origin - 1, 1]
        else:
            mean = np.full(steps, level)
        if self.seasonal:
            rows = origin - 1 + j - self.period * np.ceil(j / self.period).astype(int)
            season = states[rows, -1]
            mean = mean * season if self.seasonal == "mul" else mean + season
        return mean

    def backtest(self, y: np.ndarray, origins: Sequence[int], steps: int) -> np.ndarray:
        first = origins[0]
        cycle = _yearly_component(y[:first], len(y)) if self.yearly else np.zeros(len(y))
        z = y - cycle
        self._unit = _unit_of(z[:first])
        z = z / self._unit
        self._train = self._fit(z[:first])
        states = np.asarray(self._smooth(z, self._train).states)
        out = np.stack([self._from_states(self._train, states, o, steps) for o in origins])
        out = out * self._unit + np.stack([cycle[o : o + steps] for o in origins])
        if not np.all(np.isfinite(out)):
            raise _Skip("non-finite backtest forecast")
        return out

    def final(self, y: np.ndarray, horizon: int, level: float) -> _Final:
        n = len(y)
        cycle = _yearly_component(y, n + horizon) if self.yearly else np.zeros(n + horizon)
        if self._train is None:
            self._unit = _unit_of(y - cycle[:n])
        # Same unit as the backtest fit, so its parameters and initial states stay valid.
        z = pd.Series((y - cycle[:n]) / self._unit)  # get_prediction needs a pandas endog
        warm = None if self._train is None else np.asarray(self._train.params)
        try:
            res = self._fit(z, start_params=warm)
        except Exception:
            if self._train is None:
                raise
            res = self._smooth(z, self._train)  # keep the backtest parameters
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            pred = res.get_prediction(
                start=n,
                end=n + horizon - 1,
                simulate_repetitions=_SIM_REPETITIONS,
                rng=np.random.default_rng(0),  # reproducible simulated intervals
            )
            frame = pred.summary_frame(alpha=1 - level)
        future, unit = cycle[n:], self._unit
        mean = frame["mean"].to_numpy() * unit + future
        lower = frame["pi_lower"].to_numpy() * unit + future
        upper = frame["pi_upper"].to_numpy() * unit + future
        fitted = np.asarray(res.fittedvalues, dtype=float) * unit + cycle[:n]
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(fitted))):
            raise _Skip("non-finite forecast")
        return _Final(mean, lower, upper, fitted, self.relative, str(pred.method))


class _Sarima:
    """SARIMA with small fixed orders (opt-in: one fit costs as much as all ETS fits)."""

    def __init__(self, name: str, freq: str, period: int) -> None:
        self.name = name
        self.period = period
        self.order = (0, 1, 1) if freq == "M" else (1, 0, 0)
        self.seasonal_order = (0, 1, 1, period)
        self.min_train = max(3 * period, 24)
        self._train: Any = None

    def _fit(self, y: np.ndarray | pd.Series, start_params: np.ndarray | None = None) -> Any:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = SARIMAX(y, order=self.order, seasonal_order=self.seasonal_order).fit(
                disp=False, start_params=start_params
            )
        if not res.mle_retvals.get("converged", True):
            raise _Skip("did not converge")
        if not np.all(np.isfinite(res.params)):
            raise _Skip("non-finite fit")
        return res

    def backtest(self, y: np.ndarray, origins: Sequence[int], steps: int) -> np.ndarray:
        self._train = self._fit(y[: origins[0]])
        rows = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for o in origins:
                rows.append(np.asarray(self._train.apply(y[:o]).forecast(steps)))
        out = np.stack(rows)
        if not np.all(np.isfinite(out)):
            raise _Skip("non-finite backtest forecast")
        return out

    def final(self, y: np.ndarray, horizon: int, level: float) -> _Final:
        warm = None if self._train is None else np.asarray(self._train.params)
        res = self._fit(y, start_params=warm)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            pred = res.get_forecast(horizon)
            bounds = np.asarray(pred.conf_int(alpha=1 - level))
        fitted = np.asarray(res.fittedvalues, dtype=float).copy()
        fitted[: self.period + 1] = np.nan  # diffuse start: the first season is not a forecast
        mean = np.asarray(pred.predicted_mean, dtype=float)
        if not np.all(np.isfinite(mean)):
            raise _Skip("non-finite forecast")
        return _Final(mean, bounds[:, 0], bounds[:, 1], fitted, False, "conf_int")


_Candidate = _Rule | _Ets | _Sarima


def _candidates(prep: _Prepared, names: Iterable[str]) -> list[_Candidate]:
    m = prep.period
    make: dict[str, _Candidate] = {
        "naive": _Rule("naive", 1),
        "snaive": _Rule("snaive", m),
        "ses": _Ets("ses"),
        "holt_damped": _Ets("holt_damped", trend="add"),
        "hw_add": _Ets("hw_add", trend="add", seasonal="add", period=m),
        "hw_mul": _Ets("hw_mul", error="mul", trend="add", seasonal="mul", period=m),
        "hw_add_yearly": _Ets("hw_add_yearly", trend="add", seasonal="add", period=m, yearly=True),
        "sarima": _Sarima("sarima", prep.freq, m),
    }
    wanted = set(names)
    unknown = wanted - set(ALL_MODELS)
    if unknown:
        raise ValueError(f"unknown candidate models: {sorted(unknown)}")
    return [make[name] for name in ALL_MODELS if name in wanted]


def _is_constant(y: np.ndarray) -> bool:
    spread = float(np.ptp(y))
    return spread == 0 or spread <= 1e-12 * float(np.max(np.abs(y)))  # relative: any unit


def _ineligible(cand: _Candidate, prep: _Prepared, first_origin: int) -> str | None:
    """Why a candidate cannot run on this series, or None."""
    y = prep.y
    if cand.name == "naive":
        return None
    if _is_constant(y):
        return "constant series"
    if first_origin < cand.min_train:
        return f"needs {cand.min_train} training points, has {first_origin}"
    if cand.name == "hw_mul" and float(np.min(y)) <= 0:
        return "values not all positive"
    if cand.name == "hw_add_yearly" and (prep.freq != "D" or len(y) < 2 * 365):
        return "needs two years of daily data"
    return None


# --------------------------------------------------------------------------- backtest


def _plan(n: int, horizon: int, period: int, folds: int) -> tuple[list[int], int]:
    """Forecast origins (training sizes) and test length of the rolling-origin backtest."""
    preferred = max(2 * period, 10 + 2 * (period // 2))  # enough for seasonal models
    # A short history gets shorter test windows rather than no backtest at all.
    steps = horizon if n - horizon >= preferred else max(1, min(horizon, (n - 2) // 2))
    last = n - steps
    if last < 2:
        return [], 0
    first = max(min(preferred, last), last - (folds - 1) * steps)
    origins = sorted({round(o) for o in np.linspace(first, last, max(folds, 1))})
    return origins, steps


def _score(
    actual: np.ndarray, predicted: np.ndarray, mask: np.ndarray, scale: float, folds: int
) -> BacktestScore:
    a, p = actual[mask], predicted[mask]
    if not len(a):  # cannot happen: the last test window ends on an observation
        return BacktestScore(math.nan, math.nan, math.nan, 0, folds)
    err = np.abs(a - p)
    nonzero = a != 0
    mape = float(np.mean(err[nonzero] / np.abs(a[nonzero])) * 100) if nonzero.any() else math.nan
    denom = np.abs(a) + np.abs(p)
    smape = float(np.mean(np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0)) * 100)
    mae = float(np.mean(err))
    mase = mae / scale if scale > 0 else (0.0 if mae == 0 else math.inf)
    return BacktestScore(mape, smape, mase, int(mask.sum()), folds)


def _mase_scale(train: np.ndarray, period: int) -> float:
    lag = period if len(train) > 2 * period else 1
    if len(train) <= lag:
        return math.nan
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


# --------------------------------------------------------------------------- anomalies


def _robust_scale(resid: np.ndarray) -> float:
    if len(resid) == 0:
        return math.nan
    centred = np.abs(resid - np.median(resid))
    mad = float(np.median(centred)) * 1.4826
    if mad > 0:
        return mad
    # More than half the residuals are identical (e.g. mostly-zero counts): the MAD is
    # zero, so fall back to the mean absolute deviation, still ~σ for normal noise.
    return float(np.mean(centred)) * 1.2533


def _band(
    y: np.ndarray, fitted: np.ndarray, observed: np.ndarray, relative: bool, level: float
) -> tuple[np.ndarray, np.ndarray]:
    z = NormalDist().inv_cdf(0.5 + level / 2)
    ok = observed & np.isfinite(fitted)
    if relative:
        ok &= fitted > 0
        with np.errstate(all="ignore"):
            s = _robust_scale((y[ok] - fitted[ok]) / fitted[ok])
        return fitted * (1 - z * s), fitted * (1 + z * s)
    s = _robust_scale(y[ok] - fitted[ok])
    return fitted - z * s, fitted + z * s


@dataclass
class _Backtest:
    scores: dict[str, BacktestScore]
    usable: list[_Candidate]  # candidates that produced a backtest, in ALL_MODELS order
    metric: str


def _backtest(
    prep: _Prepared, pool: list[_Candidate], origins: list[int], steps: int, notes: list[str]
) -> _Backtest:
    """Score every eligible candidate over the rolling origins."""
    if not origins:
        notes.append("history too short for a backtest; using the naive forecast")
        return _Backtest({}, [c for c in pool if c.name == "naive"], "mape")
    y = prep.y
    actual = np.stack([y[o : o + steps] for o in origins])
    mask = np.stack([prep.observed[o : o + steps] for o in origins])
    scale = _mase_scale(y[: origins[0]], prep.period)
    median_abs = float(np.median(np.abs(y[prep.observed])))
    near_zero = (np.abs(actual[mask]) <= _NEAR_ZERO_SHARE * median_abs).any()
    metric = "mase" if median_abs == 0 or bool(near_zero) else "mape"
    scores: dict[str, BacktestScore] = {}
    usable: list[_Candidate] = []
    for cand in pool:
        reason = _ineligible(cand, prep, origins[0])
        if reason:
            notes.append(f"{cand.name}: skipped ({reason})")
            continue
        try:
            predicted = cand.backtest(y, origins, steps)
        except Exception as exc:  # a failing candidate must never break the cockpit
            notes.append(f"{cand.name}: skipped ({exc or type(exc).__name__})")
            continue
        scores[cand.name] = _score(actual, predicted, mask, scale, len(origins))
        usable.append(cand)
    return _Backtest(scores, usable, metric)


def _fit_best(
    backtest: _Backtest, y: np.ndarray, horizon: int, level: float, notes: list[str]
) -> tuple[str, _Final]:
    """Final fit of the best candidate; on failure the next best, down to naive."""

    def rank(cand: _Candidate) -> tuple[float, int]:
        score = backtest.scores.get(cand.name)
        value = getattr(score, backtest.metric) if score else math.nan
        return (value if math.isfinite(value) else math.inf, ALL_MODELS.index(cand.name))

    for cand in sorted(backtest.usable, key=rank):  # ties go to the simpler model
        try:
            return cand.name, cand.final(y, horizon, level)
        except Exception as exc:
            notes.append(f"{cand.name}: final fit failed ({exc or type(exc).__name__})")
    return "naive", _Rule("naive", 1).final(y, horizon, level)  # naive cannot fail


# --------------------------------------------------------------------------- public API


def forecast(
    series: pd.Series,
    horizon: int,
    freq: Freq | None = None,
    level: float = 0.95,
    *,
    anomaly_level: float = DEFAULT_ANOMALY_LEVEL,
    folds: int = DEFAULT_FOLDS,
    candidates: Sequence[str] | None = None,
) -> ForecastResult:
    """Choose a model by rolling-origin backtest and forecast ``horizon`` periods ahead.

    ``level`` is the coverage of the forecast interval, ``anomaly_level`` that of the
    in-sample band used by :func:`flag_anomalies`. ``candidates`` restricts or extends
    (``"sarima"``) the default model set; ``naive`` is always kept as the fallback.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError("horizon must be a positive integer")
    horizon = int(horizon)
    for name, value in (("level", level), ("anomaly_level", anomaly_level)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be between 0 and 1")
    if folds < 1:
        raise ValueError("folds must be at least 1")
    prep = _prepare(series, _FREQ_ALIASES.get(freq, freq) if freq else None)
    y, n = prep.y, len(prep.y)
    notes: list[str] = []
    if not prep.observed.all():
        notes.append(f"{int((~prep.observed).sum())} missing periods filled by interpolation")

    names = list(DEFAULT_MODELS if candidates is None else candidates)
    if "naive" not in names:
        names.insert(0, "naive")
    if prep.freq != "D" and candidates is None:
        names.remove("hw_add_yearly")  # the yearly cycle is for daily data only
    pool = _candidates(prep, names)
    origins, steps = _plan(n, horizon, prep.period, folds)
    with _one_blas_thread():
        backtest = _backtest(prep, pool, origins, steps, notes)
        chosen, final = _fit_best(backtest, y, horizon, level, notes)

    future = pd.date_range(prep.index[-1], periods=horizon + 1, freq=prep.alias)[1:]
    lower, upper = _band(y, final.fitted, prep.observed, final.relative, anomaly_level)
    naive_score = backtest.scores.get("naive")
    return ForecastResult(
        model=chosen,
        freq=prep.freq,
        alias=prep.alias,
        horizon=horizon,
        level=level,
        forecast=pd.Series(final.mean, index=future, name="forecast"),
        lower=pd.Series(final.lower, index=future, name="lower"),
        upper=pd.Series(final.upper, index=future, name="upper"),
        interval_method=final.interval_method,
        scores=backtest.scores,
        selection_metric=backtest.metric,
        naive_mape=naive_score.mape if naive_score else math.nan,
        backtest_folds=len(origins),
        backtest_horizon=steps,
        fitted=pd.Series(final.fitted, index=prep.index, name="expected"),
        fitted_lower=pd.Series(lower, index=prep.index, name="lower"),
        fitted_upper=pd.Series(upper, index=prep.index, name="upper"),
        anomaly_level=anomaly_level,
        imputed=prep.index[~prep.observed],
        notes=notes,
    )


def _forecast_item(item: tuple[str, pd.Series, dict[str, Any]]) -> tuple[str, ForecastResult]:
    key, series, kwargs = item
    return key, forecast(series, **kwargs)


def forecast_many(
    series: Mapping[str, pd.Series],
    horizon: int,
    freq: Freq | None = None,
    level: float = 0.95,
    *,
    workers: int = 1,
    candidates_for: Mapping[str, Sequence[str]] | None = None,
    **kwargs: Any,
) -> dict[str, ForecastResult]:
    """:func:`forecast` for a batch of indicators, optionally on ``workers`` processes.

    ``candidates_for`` restricts the candidate models of some series (by key), e.g. to the
    model an earlier full selection chose.

    Worker processes are forked so they inherit the imported statsmodels (spawning would
    re-import it in every worker, which costs more than the forecasts). Use ``workers > 1``
    from batch jobs and the CLI, not from inside the threaded web server.
    """
    options = {"horizon": horizon, "freq": freq, "level": level, **kwargs}
    only = candidates_for or {}
    items = [
        (key, s, options | {"candidates": only[key]} if key in only else options)
        for key, s in series.items()
    ]
    if workers <= 1 or len(items) < 2:
        return dict(map(_forecast_item, items))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    workers = min(workers, len(items))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk = math.ceil(len(items) / workers)
        return dict(pool.map(_forecast_item, items, chunksize=chunk))


def _bands_of(bands: ForecastResult | pd.DataFrame) -> pd.DataFrame:
    if isinstance(bands, ForecastResult):
        return bands.bands()
    if not {"lower", "upper"} <= set(bands.columns):
        raise ValueError("bands need 'lower' and 'upper' columns")
    frame = bands.copy()
    if "expected" not in frame:
        frame["expected"] = (frame["lower"] + frame["upper"]) / 2
    return frame


def _aligned(series: pd.Series, bands: ForecastResult | pd.DataFrame) -> pd.DataFrame:
    """Observations next to the band of their period (NaN where there is no band)."""
    frame = _bands_of(bands)
    index = pd.DatetimeIndex(series.index)
    keys = _grid(index, bands.freq)[0] if isinstance(bands, ForecastResult) else index
    out = frame.reindex(keys)
    out.index = index
    out["actual"] = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
    return out


def flag_anomalies(series: pd.Series, bands: ForecastResult | pd.DataFrame) -> pd.Series:
    """True where an observation lies outside the in-sample band.

    ``bands`` is a :class:`ForecastResult` or a frame with ``lower``/``upper`` columns
    (e.g. stored bands). Missing values and dates without a band are never flagged.
    """
    frame = _aligned(series, bands)
    flags = (frame["actual"] > frame["upper"]) | (frame["actual"] < frame["lower"])
    return pd.Series(flags.to_numpy(dtype=bool), index=series.index, name="anomaly")


def anomaly_table(series: pd.Series, bands: ForecastResult | pd.DataFrame) -> pd.DataFrame:
    """The flagged observations: date index, expected, actual, lower, upper, direction."""
    frame = _aligned(series, bands)
    flags = flag_anomalies(series, bands).to_numpy()
    out = frame.loc[flags, ["expected", "actual", "lower", "upper"]].copy()
    out["direction"] = np.where(out["actual"] > out["upper"], "above", "below")
    out.index.name = "date"
    return out
