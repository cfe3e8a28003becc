#!/usr/bin/env python3
"""Reference numbers for tests/unit/test_stats.cpp, computed independently of Boost.Math.

The Student t distribution is built here from mpmath's regularized incomplete beta
function (P(T > t) = I_{df/(df+t^2)}(df/2, 1/2) / 2) and inverted with mpmath.findroot;
everything else is the textbook formula. Run: python3 stats_reference.py (mpmath 1.3).
Data set: R's `sleep` (Student 1908), whose Welch test R's ?t.test prints as
t = -1.8608, df = 17.776, p-value = 0.07939.
"""
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


g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

# One-sample 95% CI of g1's mean.
m, s = mean(g1), mp.sqrt(var(g1))
h = t_quantile(0.975, 9) * s / mp.sqrt(10)
print("g1 mean", m, "sd", s, "ci", m - h, m + h)

# Welch test of g2 against g1.
va, vb = var(g1) / 10, var(g2) / 10
t = (mean(g2) - mean(g1)) / mp.sqrt(va + vb)
df = (va + vb) ** 2 / (va ** 2 / 9 + vb ** 2 / 9)
print("welch t", t, "df", df, "p", 2 * t_sf(abs(t), df))

# Fieller interval for mean(num)/mean(den), unequal variances, df at the estimate.
def fieller(num, den, conf=0.95):
    a, b = mean(num), mean(den)
    va, vb = var(num) / len(num), var(den) / len(den)
    th = a / b
    df = (va + th ** 2 * vb) ** 2 / (va ** 2 / (len(num) - 1) + th ** 4 * vb ** 2 / (len(den) - 1))
    tq = t_quantile(1 - (1 - conf) / 2, df)
    # Solve (a - x b)^2 = tq^2 (va + x^2 vb) for x directly with findroot on each side.
    f = lambda x: (a - x * b) ** 2 - tq ** 2 * (va + x * x * vb)
    return th, mp.findroot(f, th * 0.8), mp.findroot(f, th * 1.2), df


native = [52110.3, 51874.9, 52402.7, 51988.1, 52230.6]
tcg = [7512.4, 7490.8, 7555.1, 7431.9, 7528.3]
print("fieller native/tcg", fieller(native, tcg))
print("t quantiles", t_quantile(0.975, 2), t_quantile(0.975, 4), t_quantile(0.975, 9))
