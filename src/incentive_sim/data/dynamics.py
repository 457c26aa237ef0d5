"""How fast each municipality's unemployed leave unemployment, read from the monthly register
rates: the structure behind a municipality's bill that its population and unemployment rate
alone do not give.

The register rate u[m, t] of municipality m in month t (Statistics Finland, tyonv 12r5) moves
as a stock does: what stays of last month's unemployed plus those who arrive,

    u[m, t] = (1 - h[m]) u[m, t-1] + b[m] s[t] + noise,

with a monthly exit rate h[m] of its own, an inflow level b[m] of its own and an inflow path
s[t] common to the country (seasons and the national cycle). A place whose stock empties
quickly after the seasonal inflow of summer has short spells; one whose stock barely moves has
long ones, and long spells are what the graduated rule bills at 30-50 %. The model is fitted by
alternating least squares (each municipality's (h, b) is a regression given s; s is a weighted
regression given every (h, b)), weighted by labour force.

Small municipalities' series are noisy (a rate to 0.1 points of a few hundred people), so each
estimate of log h is shrunk towards what the municipality's unemployment rate predicts (a
weighted line of log h on log u across municipalities), by the ratio of the spread of true
values around the line to that spread plus the estimate's own sampling variance (empirical
Bayes, method of moments). The index a scenario uses, `exit_index`, is the shrunk h relative to
its mean over the unemployed of the country (weights: labour force times rate), so the country
as a whole keeps its calibrated hazards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ExitRates:
    """The fit over municipalities (rows in the order given)."""

    h: FloatArray            # monthly exit rate, as estimated
    se_log_h: FloatArray     # its standard error, on the log scale
    shrunk: FloatArray       # after shrinkage towards the line
    index: FloatArray        # shrunk / its mean over the unemployed, the scenario's exit_index
    inflow: FloatArray       # b: each municipality's inflow level (rate points a month)
    path: FloatArray         # s: the common inflow path, months 2.. of the series (mean 1)
    slope: float             # of log h on log u across municipalities (the line)
    spread: float            # sd of true log h around the line (method of moments)
    months: int
    iterations: int


def fit_exit_rates(rates: FloatArray, weight: FloatArray, *, tol: float = 1e-10,
                   max_iter: int = 5000) -> ExitRates:
    """Fit the stock model to `rates` (municipalities x consecutive months, in %), weighting
    municipalities by `weight` (their labour force or working-age population)."""
    u = np.asarray(rates, float)
    w = np.asarray(weight, float)
    n, months = u.shape
    if months < 6 or n < 3 or not np.isfinite(u).all() or (w <= 0).any():
        raise ValueError("need at least 3 municipalities x 6 months of finite rates, "
                         "positive weights")
    x, y = u[:, :-1], u[:, 1:]
    s = np.average(y - 0.8 * x, axis=0, weights=w)      # a start: every h = 0.2
    a = b = np.zeros(n)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # each municipality: y = a x + b s, two regressors
        sxx, sss, sxs = (x * x).sum(1), (s * s).sum(), (x * s).sum(1)
        sxy, ssy = (x * y).sum(1), (y * s).sum(1)
        det = sxx * sss - sxs * sxs
        a_new = (sxy * sss - ssy * sxs) / det
        b_new = (ssy * sxx - sxy * sxs) / det
        # the common inflow path: a weighted regression on b, month by month
        s_new = ((w * b_new)[:, None] * (y - a_new[:, None] * x)).sum(0) / (w * b_new ** 2).sum()
        s_new *= s.mean() / s_new.mean()                 # fix the scale b s leaves free
        done = np.max(np.abs(a_new - a)) < tol
        a, b, s = a_new, b_new * s_new.mean() / s.mean(), s_new
        if done:
            break
    resid = y - a[:, None] * x - b[:, None] * s[None, :]
    sigma2 = (resid ** 2).sum(1) / (months - 1 - 2)
    # var(a) from the two-regressor fit: sigma^2 * sss / det
    det = (x * x).sum(1) * (s * s).sum() - (x * s).sum(1) ** 2
    var_a = sigma2 * (s * s).sum() / det
    h = np.clip(1.0 - a, 0.01, 0.99)
    se_log_h = np.sqrt(var_a) / h
    # the line: log h on log u (mean rate), weighted by precision and size
    log_u = np.log(u.mean(1))
    log_h = np.log(h)
    prec = w / (se_log_h ** 2 + 1e-12)
    design = np.column_stack([np.ones(n), log_u])
    coef = np.linalg.lstsq(design * np.sqrt(prec)[:, None], log_h * np.sqrt(prec), rcond=None)[0]
    line = design @ coef
    # between-municipality variance of the true log h around the line (method of moments,
    # weighted by size), at least 0
    dev2 = (log_h - line) ** 2
    tau2 = max(float(np.average(dev2 - se_log_h ** 2, weights=w)), 0.0)
    keep = tau2 / (tau2 + se_log_h ** 2) if tau2 > 0 else np.zeros(n)
    shrunk = np.exp(line + keep * (log_h - line))
    unemployed = w * u.mean(1)
    index = shrunk / np.average(shrunk, weights=unemployed)
    scale = s.mean()
    return ExitRates(h=h, se_log_h=se_log_h, shrunk=shrunk, index=index, inflow=b * scale,
                     path=s / scale, slope=float(coef[1]),
                     spread=float(np.sqrt(tau2)), months=months, iterations=iterations)


@dataclass(frozen=True)
class InflowPath:
    """The common inflow path `s` split into a log-linear trend and calendar-month factors."""

    growth_per_year: float         # the trend's growth, e.g. 0.09 for 9 % a year
    seasonality: FloatArray        # twelve factors, January first, mean 1


def inflow_path(path: FloatArray, first_month: int) -> InflowPath:
    """Trend and seasons of an inflow path whose first value is calendar month `first_month`
    (1-12): a least-squares line through log s with a dummy for each calendar month."""
    n = path.size
    month = (first_month - 1 + np.arange(n)) % 12
    design = np.column_stack([np.arange(n) / 12.0, np.eye(12)[month]])
    coef = np.linalg.lstsq(design, np.log(path), rcond=None)[0]
    season = np.exp(coef[1:])
    return InflowPath(growth_per_year=float(np.exp(coef[0]) - 1.0),
                      seasonality=season / season.mean())


def main() -> None:
    """Print the fit to the shipped data: `python -m incentive_sim.data`."""
    from . import exit_fit, finland_2025, monthly_rates

    fit = exit_fit()
    codes, months, _ = monthly_rates()
    print(f"stock model fitted to {len(codes)} municipalities x {fit.months} months "
          f"({months[0]}-{months[-1]}) in {fit.iterations} iterations")
    print(f"slope of log exit rate on log unemployment rate: {fit.slope:.3f}; "
          f"spread of true log exit rates around the line: {fit.spread:.3f}")
    q = np.percentile(fit.h, [5, 50, 95])
    print(f"monthly exit rate, 5/50/95 %: {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}")
    q = np.percentile(fit.index, [5, 50, 95])
    print(f"exit index, 5/50/95 %: {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}")
    first = int(months[1][5:])
    seasons = inflow_path(fit.path, first)
    print(f"inflow path: growth {100 * seasons.growth_per_year:.1f} % a year; seasonal factors "
          f"January to December: {', '.join(f'{x:.2f}' for x in seasons.seasonality)}")
    by_code = {m.code: m for m in finland_2025()}
    largest = sorted(codes, key=lambda c: -by_code[c].working_age_population)[:10]
    print("largest municipalities: code, name, rate 2024 %, exit rate a month (se of log), index")
    for c in largest:
        i = codes.index(c)
        print(f"  {c} {by_code[c].name:<12} {by_code[c].unemployment_rate:5.1f} "
              f"{fit.h[i]:.3f} ({fit.se_log_h[i]:.2f}) {fit.index[i]:.3f}")
