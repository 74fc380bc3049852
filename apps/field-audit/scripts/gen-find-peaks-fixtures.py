#!/usr/bin/python3
"""Golden fixtures for the TypeScript port of scipy.signal.find_peaks.

Run with Debian's python3-scipy (apt-get install -y python3-scipy):

    /usr/bin/python3 apps/field-audit/scripts/gen-find-peaks-fixtures.py

Writes apps/field-audit/test/fixtures/find-peaks/{random,plateaus,borders,robust}.json.
Every float goes through repr (shortest round-trip), so JSON.parse sees the exact doubles
scipy used and produced. Priority ties are kept out of cases that use `distance`: numpy's
argsort order for equal peak heights is unspecified, so no port can promise to match it.
"""
import json
import pathlib
import warnings

import numpy as np
import scipy
from scipy.signal import find_peaks
from scipy.stats import median_abs_deviation

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "find-peaks"
rng = np.random.default_rng(20260221)


def encode(value):
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return {"array": [float(v) for v in value]}
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    return float(value)


def props_json(props):
    out = {}
    for key, arr in props.items():
        if arr.dtype.kind in "iu":
            out[key] = [int(v) for v in arr]
        else:
            out[key] = [float(v) for v in arr]
    return out


def case(name, x, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peaks, props = find_peaks(x, **kwargs)
    return {
        "name": name,
        "x": [float(v) for v in x],
        "kwargs": {k: encode(v) for k, v in kwargs.items()},
        "peaks": [int(p) for p in peaks],
        "properties": props_json(props),
        "warnings": sorted({str(w.message) for w in caught}),
    }


def has_priority_ties(x):
    peaks, _ = find_peaks(x)
    heights = x[peaks]
    return len(np.unique(heights)) != len(heights)


def random_signal(n):
    walk = np.cumsum(rng.normal(0, 0.3, n))
    t = np.arange(n)
    bumps = np.zeros(n)
    for _ in range(rng.integers(1, 8)):
        c, s, a = rng.uniform(0, n), rng.uniform(0.8, 6), rng.uniform(0.5, 6)
        bumps += a * np.exp(-0.5 * ((t - c) / s) ** 2)
    return walk + bumps + rng.normal(0, 0.2, n)


def random_interval(lo, hi):
    kind = rng.integers(0, 4)
    a = float(rng.uniform(lo, hi))
    if kind == 0:
        return a
    if kind == 1:
        return (a, None)
    if kind == 2:
        return (None, float(a + rng.uniform(0, hi - lo)))
    return (a, float(a + rng.uniform(0, 2 * (hi - lo))))


def random_kwargs(x):
    spread = float(np.ptp(x)) or 1.0
    kwargs = {}
    if rng.random() < 0.5:
        kwargs["height"] = random_interval(float(np.min(x)), float(np.max(x)))
    if rng.random() < 0.3:
        kwargs["threshold"] = random_interval(0, spread / 20)
    if rng.random() < 0.5:
        kwargs["distance"] = float(rng.choice([1, 1.5, 2, 3, 4.2, 7, 10, 25]))
    if rng.random() < 0.6:
        kwargs["prominence"] = random_interval(0, spread / 3)
    if rng.random() < 0.6:
        kwargs["width"] = random_interval(0, 6)
    if rng.random() < 0.4:
        kwargs["wlen"] = float(rng.choice([2, 3, 4, 5.5, 9, 20, 51]))
    if rng.random() < 0.5:
        kwargs["rel_height"] = float(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, 1.5]))
    if rng.random() < 0.2:
        kwargs["plateau_size"] = random_interval(1, 3)
    return kwargs


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    random_cases = []
    while len(random_cases) < 120:
        x = random_signal(int(rng.integers(20, 400)))
        kwargs = random_kwargs(x)
        if "distance" in kwargs and has_priority_ties(x):
            continue
        random_cases.append(case(f"random-{len(random_cases)}", x, kwargs))

    plateau_cases = []
    while len(plateau_cases) < 60:
        n = int(rng.integers(20, 200))
        # Quantised signals: plateaus of every length, even and odd.
        x = np.round(random_signal(n) * rng.choice([1, 2, 4])) / 2
        x = np.repeat(x, rng.integers(1, 5, n))
        kwargs = random_kwargs(x)
        if rng.random() < 0.6:
            kwargs["plateau_size"] = random_interval(1, 6)
        if "distance" in kwargs and has_priority_ties(x):
            del kwargs["distance"]
        plateau_cases.append(case(f"plateau-{len(plateau_cases)}", x, kwargs))

    border_cases = []
    for i in range(20):
        x = random_signal(int(rng.integers(30, 200)))
        lo = np.sort(x)[len(x) // 3] + rng.normal(0, 0.5, x.size)
        kwargs = {"height": lo if i % 2 == 0 else (lo, lo + 4), "prominence": (rng.uniform(0, 1, x.size), None)}
        if i % 3 == 0:
            kwargs["width"] = (None, rng.uniform(2, 8, x.size))
        border_cases.append(case(f"border-{i}", x, kwargs))

    robust = []
    for i in range(30):
        n = int(rng.integers(1, 60))
        x = rng.normal(0, 1, n) * rng.uniform(0.1, 10)
        if i % 5 == 0:
            x = np.round(x)
        robust.append({
            "x": [float(v) for v in x],
            "median": float(np.median(x)),
            "mad_normal": float(median_abs_deviation(x, scale="normal")),
        })

    meta = {"scipy": scipy.__version__, "numpy": np.__version__}
    for name, cases in [("random", random_cases), ("plateaus", plateau_cases), ("borders", border_cases)]:
        (OUT / f"{name}.json").write_text(json.dumps({"meta": meta, "cases": cases}) + "\n")
    (OUT / "robust.json").write_text(json.dumps({"meta": meta, "cases": robust}) + "\n")


if __name__ == "__main__":
    main()
