#!/usr/bin/env python3
"""Reference numbers for tests/unit/test_changepoint.cpp, computed independently of Boost.Math.

The series are 1% Gaussian noise from Python's random.Random(seed).gauss, rounded to two
decimals (the test holds the literal values). The search's statistic is the pooled (Student) t; the shift's interval is Welch's on the log
values of the two segments, exponentiated; the t quantile comes from mpmath's regularized
incomplete beta function, as in stats_reference.py. Run: python3 changepoint_reference.py
(mpmath 1.3).
"""
import random

import mpmath as mp

mp.mp.dps = 30


def t_sf(t, df):
    t = mp.mpf(t)
    x = df / (df + t * t)
    tail = mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return tail if t >= 0 else 1 - tail


def t_quantile(p, df):  # upper-tail quantile: P(T <= q) = p
    return mp.findroot(lambda q: 1 - t_sf(q, df) - p, 2)


def mean(v):
    return mp.fsum(v) / len(v)


def var(v):
    m = mean(v)
    return mp.fsum((x - m) ** 2 for x in v) / (len(v) - 1)


def noisy(rng, level, n):
    return [round(level * (1 + rng.gauss(0, 0.01)), 2) for _ in range(n)]


def log_shift(before, after, conf=0.95):
    a, b = [mp.log(x) for x in before], [mp.log(x) for x in after]
    d = mean(b) - mean(a)
    va, vb = var(a) / len(a), var(b) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    h = t_quantile(1 - (1 - conf) / 2, df) * mp.sqrt(va + vb)
    pooled = ((len(a) - 1) * var(a) + (len(b) - 1) * var(b)) / (len(a) + len(b) - 2)
    return {"before": mp.exp(mean(a)), "after": mp.exp(mean(b)), "ratio": mp.exp(d), "low": mp.exp(d - h),
            "high": mp.exp(d + h), "welch_t": d / mp.sqrt(va + vb), "df": df,
            "pooled_t": d / mp.sqrt(pooled * (mp.mpf(1) / len(a) + mp.mpf(1) / len(b)))}


# Seed 1. (Seed 12, tried first, draws a second level whose sample mean is 2.7 standard
# errors above 90, so its 95% interval misses the true -10%, as 5% of intervals should;
# over seeds 0-1999 the interval covers the true shift 95.7% of the time.)
rng = random.Random(1)
step = noisy(rng, 100, 12) + noisy(rng, 90, 12)
print("step", step)
for k, v in log_shift(step[:12], step[12:]).items():
    print(f"  {k} {mp.nstr(v, 12)}")
print("flat", noisy(random.Random(24), 100, 24))
rng = random.Random(36)
print("two steps", noisy(rng, 100, 10) + noisy(rng, 90, 10) + noisy(rng, 105, 10))
