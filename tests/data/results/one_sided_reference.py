#!/usr/bin/env python3
"""Reference numbers for tests/unit/test_stats_one_sided.cpp, computed independently of
Boost.Math and of virtbench's own code (issue 12: one-sided tests, weighted Holm and BH).

Run: python3 one_sided_reference.py > one_sided_reference.out (mpmath 1.3). The output is
stored next to this file.

- Student t tails, as R's pt(q, df) and pt(q, df, lower.tail = FALSE) give them, from
  mpmath's regularized incomplete beta function: P(T > t) = I_{df/(df+t^2)}(df/2, 1/2) / 2
  for t >= 0. Cross-checked with the one-sided critical values of textbook t tables
  (t_{0.05, 10} = 1.812, t_{0.01, 4} = 3.747).
- The one-sided Welch test of R's ?t.test sleep example: t.test(extra ~ group, data = sleep,
  alternative = "less") prints t = -1.8608, df = 17.776, p-value = 0.0397 (half of the
  two-sided 0.07939).
- Exact Mann–Whitney one-sided p-values, as R's wilcox.test(x, y, alternative = "less" |
  "greater", exact = TRUE) gives them (W = #{x_i > y_j}), by enumerating every labelling of
  the pooled sample (no recurrence). R's ?wilcox.test example (Hollander & Wolfe 1973,
  p. 69) prints W = 35, p-value = 0.1272 for alternative = "greater". Cross-checked with the
  textbook table of critical values for n1 = n2 = 5 (one-tailed 0.05: U <= 4; 0.025: U <= 2):
  P(U <= 4) = 12/252, P(U <= 2) = 4/252.
- The normal approximation with ties, as R's wilcox.test(exact = FALSE, correct = TRUE):
  z = (W - n1 n2 / 2 - CORRECTION) / sigma with CORRECTION = 0.5 for "greater", -0.5 for
  "less"; sigma^2 = n1 n2 / 12 ((n + 1) - sum(t^3 - t) / (n (n - 1))).
- Holm (1979), weighted: order by p_i / w_i; reject H_(j) while p_(j) / w_(j) <=
  alpha / sum of the weights not yet rejected. The adjusted p-value of H_i is the smallest
  alpha at which the sequential rule rejects it; here it is found by bisection on alpha
  with the rule itself (not the max / cummax formula the C++ uses). Equal weights must
  give R's p.adjust(p, "holm").
- Weighted Benjamini–Hochberg (Genovese, Roeder & Wasserman 2006, Biometrika 93: 509–524):
  weights normalized to mean 1, q_i = p_i / w_i, reject the k smallest q with
  q_(k) <= k alpha / m (step-up); adjusted likewise as the smallest alpha that rejects,
  by bisection with the rule.
"""
import itertools

import mpmath as mp

mp.mp.dps = 30


def t_upper(t, df):  # pt(t, df, lower.tail = FALSE)
    t = mp.mpf(t)
    if df == mp.inf:
        return 1 - mp.ncdf(t)
    x = df / (df + t * t)
    tail = mp.betainc(mp.mpf(df) / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return tail if t >= 0 else 1 - tail


def t_lower(t, df):  # pt(t, df)
    return 1 - t_upper(t, df)


print("# Student t tails (R: pt)")
print("pt(-4, 10)                     ", mp.nstr(t_lower(-4, 10), 17))
print("pt(4, 10, lower.tail = FALSE)  ", mp.nstr(t_upper(4, 10), 17))
print("pt(4, 10)                      ", mp.nstr(t_lower(4, 10), 17))
print("pt(1.812461, 10, lower = FALSE)", mp.nstr(t_upper(mp.mpf("1.812461123"), 10), 17), "(table: t_0.05,10 = 1.812)")
print("pt(3.746947, 4, lower = FALSE) ", mp.nstr(t_upper(mp.mpf("3.746947388"), 4), 17), "(table: t_0.01,4 = 3.747)")
print("pnorm(-2.5)                    ", mp.nstr(mp.ncdf(-2.5), 17))

# Welch, R's sleep data, group 2 against group 1 (t of mean(b) - mean(a)).
g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def mean(v):
    return mp.fsum(mp.mpf(x) for x in v) / len(v)


def var(v):
    m = mean(v)
    return mp.fsum((mp.mpf(x) - m) ** 2 for x in v) / (len(v) - 1)


va, vb = var(g1) / 10, var(g2) / 10
t = (mean(g2) - mean(g1)) / mp.sqrt(va + vb)
df = (va + vb) ** 2 / (va ** 2 / 9 + vb ** 2 / 9)
print("\n# Welch t of sleep group 2 over group 1: t", mp.nstr(t, 15), "df", mp.nstr(df, 15))
print("p greater (R: t.test(g2, g1, alternative = 'greater'))", mp.nstr(t_upper(t, df), 17))
print("p less    (R: t.test(g2, g1, alternative = 'less'))   ", mp.nstr(t_lower(t, df), 17))


def mw_exact(y, x):
    """W = #{x_i > y_j} as R's wilcox.test(x, y); returns W, P(W <= w), P(W >= w)."""
    w = sum(1 for a in x for b in y if a > b)
    pooled = sorted(x + y)
    n = len(pooled)
    counts = {}
    for idx in itertools.combinations(range(n), len(x)):
        s = set(idx)
        ww = sum(1 for i in s for j in range(n) if j not in s and pooled[i] > pooled[j])
        counts[ww] = counts.get(ww, 0) + 1
    total = sum(counts.values())
    less = sum(c for k, c in counts.items() if k <= w)
    greater = sum(c for k, c in counts.items() if k >= w)
    return w, total, less, greater


print("\n# Exact Mann-Whitney (R: wilcox.test(x, y, alternative, exact = TRUE); W = #{x_i > y_j})")
hw_x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
hw_y = [1.15, 0.88, 0.90, 0.74, 1.21]
for label, x, y in (("Hollander-Wolfe x over y", hw_x, hw_y), ("Hollander-Wolfe y over x", hw_y, hw_x),
                    ("5 vs 5: x = 1 2 3 4 9, y = 5 6 7 8 10", [1, 2, 3, 4, 9], [5, 6, 7, 8, 10]),
                    ("5 vs 5: x = 1 2 4 6 7, y = 3 5 8 9 10", [1, 2, 4, 6, 7], [3, 5, 8, 9, 10]),
                    ("4 vs 6: x = 2.1 3.5 0.4 1.7, y = 2.9 4.4 5.0 3.1 6.2 1.9", [2.1, 3.5, 0.4, 1.7],
                     [2.9, 4.4, 5.0, 3.1, 6.2, 1.9])):
    w, total, less, greater = mw_exact(y, x)
    print(f"{label}: W = {w}, less = {less}/{total} = {mp.nstr(mp.mpf(less) / total, 17)}, "
          f"greater = {greater}/{total} = {mp.nstr(mp.mpf(greater) / total, 17)}")

# Textbook table check: n1 = n2 = 5, the null distribution's lower tail.
counts = {}
for idx in itertools.combinations(range(10), 5):
    s = set(idx)
    u = sum(1 for i in s for j in range(10) if j not in s and i > j)
    counts[u] = counts.get(u, 0) + 1
print("n1 = n2 = 5: P(U <= 2) =", sum(counts.get(k, 0) for k in range(3)), "/ 252,",
      "P(U <= 4) =", sum(counts.get(k, 0) for k in range(5)), "/ 252 (tables: critical U 2 at 0.025, 4 at 0.05)")


def mw_normal(y, x):
    """R's wilcox.test(x, y, exact = FALSE, correct = TRUE): W, p less, p greater."""
    w = sum(1 if a > b else mp.mpf(1) / 2 if a == b else 0 for a in x for b in y)
    n1, n2 = len(x), len(y)
    n = n1 + n2
    pooled = sorted(x + y)
    ties = [pooled.count(v) for v in sorted(set(pooled))]
    sigma = mp.sqrt(mp.mpf(n1 * n2) / 12 * ((n + 1) - mp.fsum(t ** 3 - t for t in ties) / (n * (n - 1))))
    z = w - mp.mpf(n1 * n2) / 2
    return w, mp.ncdf((z + mp.mpf(1) / 2) / sigma), 1 - mp.ncdf((z - mp.mpf(1) / 2) / sigma)


print("\n# Mann-Whitney with ties (R: wilcox.test(x, y, alternative, exact = FALSE))")
w, less, greater = mw_normal([1, 2, 2, 3, 4], [2, 3, 4, 4, 5, 6])
print("x = 2 3 4 4 5 6, y = 1 2 2 3 4: W =", w, "less", mp.nstr(less, 17), "greater", mp.nstr(greater, 17))


def weighted_holm_rejects(p, w, alpha):
    rejected = set()
    while True:
        rest = [i for i in range(len(p)) if i not in rejected]
        if not rest:
            return rejected
        total = mp.fsum(w[i] for i in rest)
        i = min(rest, key=lambda k: p[k] / w[k])
        if p[i] / w[i] <= alpha / total:
            rejected.add(i)
        else:
            return rejected


def weighted_bh_rejects(p, w, alpha):
    m = len(p)
    scale = m / mp.fsum(w)
    q = [p[i] / (w[i] * scale) for i in range(m)]
    order = sorted(range(m), key=lambda i: q[i])
    k = max((j + 1 for j in range(m) if q[order[j]] <= (j + 1) * alpha / m), default=0)
    return set(order[:k])


def adjusted(rule, p, w):
    """The smallest alpha at which `rule` rejects each hypothesis (bisection)."""
    out = []
    for i in range(len(p)):
        lo, hi = mp.mpf(0), mp.mpf(1)
        if i not in rule(p, w, hi):
            out.append(mp.mpf(1))
            continue
        for _ in range(80):
            mid = (lo + hi) / 2
            if i in rule(p, w, mid):
                hi = mid
            else:
                lo = mid
        out.append(hi)
    return out


def show(label, p, w):
    p = [mp.mpf(x) for x in p]
    w = [mp.mpf(x) for x in w]
    print(label)
    print("  holm", [mp.nstr(x, 12) for x in adjusted(weighted_holm_rejects, p, w)])
    print("  bh  ", [mp.nstr(x, 12) for x in adjusted(weighted_bh_rejects, p, w)])


print("\n# Weighted Holm / BH: adjusted p = smallest alpha the sequential rule rejects at")
show("p = 0.01 0.04 0.03 0.005, equal weights (R p.adjust: holm 0.03 0.06 0.06 0.02; BH 0.02 0.04 0.04 0.02)",
     ["0.01", "0.04", "0.03", "0.005"], [1, 1, 1, 1])
show("p = 0.02 0.011 0.004 0.3, w = 0.4 0.4 0.1 0.1", ["0.02", "0.011", "0.004", "0.3"],
     ["0.4", "0.4", "0.1", "0.1"])
show("p = 0.001 0.008 0.039 0.041 0.042 0.06, w = 3 3 1 1 1 1",
     ["0.001", "0.008", "0.039", "0.041", "0.042", "0.06"], [3, 3, 1, 1, 1, 1])
