"""Seeded reference and current tables for the drift and quality tests.

``make_table(rows, seed)`` draws 20 numeric and 5 categorical columns, each from its own
stream (``numpy.random.default_rng([seed, column index])``) and each with about 1% nulls:

- normal (5 columns), a bimodal mixture of two normals, lognormal (4), a zero-inflated
  lognormal (30% zeros), integer counts (Poisson 3 and 20, negative binomial, binomial(4, 0.3)
  with five distinct values, geometric), uniform (4);
- string categories with Zipf-like shares: 8, 12, 4, 40 and 3 categories.

Two tables with different seeds are two samples of one distribution: nothing drifted.
``inject(table, seed)`` then changes exactly the six columns of :data:`DRIFT` and nothing else.
``reference_profile()`` profiles one 1,000,000-row table, once per process.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.monitoring import ReferenceProfile, build_profile

NUMERIC = [
    "n00_normal", "n01_normal", "n02_normal", "n03_normal", "n04_bimodal", "n05_normal",
    "n06_lognormal", "n07_lognormal", "n08_lognormal", "n09_lognormal", "n10_zero_inflated",
    "n11_count", "n12_count", "n13_count", "n14_count", "n15_count",
    "n16_uniform", "n17_uniform", "n18_uniform", "n19_uniform",
]
CATEGORICAL = ["c0_cat8", "c1_cat12", "c2_cat4", "c3_cat40", "c4_cat3"]
COLUMNS = NUMERIC + CATEGORICAL
DRIFT = {
    "n00_normal": "mean + 0.3 sd",
    "n01_normal": "sd × 1.5, mean unchanged",
    "n06_lognormal": "skewed column: mean + 0.3 sd",
    "c0_cat8": "top category's share − 10 points, the others scaled up",
    "c1_cat12": "a new category, 'c1_new', on 5% of the values",
    "n16_uniform": "null rate 1% → 20%",
}
DRIFTED = sorted(DRIFT)

REFERENCE_SEED = 0
REFERENCE_ROWS = 1_000_000
NULL_RATE = 0.01
NULL_SPIKE = 0.20
SHIFT_SD = 0.3
SD_FACTOR = 1.5
TOP_SHARE_DROP = 0.10
NEW_CATEGORY = "c1_new"
NEW_CATEGORY_SHARE = 0.05

LOGNORMAL = {"n06_lognormal": (3.0, 0.8), "n07_lognormal": (0.0, 1.0),
             "n08_lognormal": (5.0, 0.5), "n09_lognormal": (1.0, 1.2)}
CATEGORY_SHAPES = {"c0_cat8": (8, 1.0), "c1_cat12": (12, 1.2), "c2_cat4": (4, 0.7),
                   "c3_cat40": (40, 1.1), "c4_cat3": (3, 1.5)}  # categories, Zipf exponent


def lognormal_sd(mu: float, sigma: float) -> float:
    """The standard deviation of a lognormal(mu, sigma) distribution."""
    return math.sqrt((math.exp(sigma**2) - 1) * math.exp(2 * mu + sigma**2))


def categories(name: str) -> tuple[list[str], np.ndarray]:
    """The categories of a categorical column and their shares among its non-null values."""
    count, exponent = CATEGORY_SHAPES[name]
    values = [f"{name.split('_')[0]}_{k:02d}" for k in range(count)]
    shares = 1.0 / np.arange(1, count + 1) ** exponent
    return values, shares / shares.sum()


def _numeric(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    match name:
        case "n00_normal":
            return rng.normal(50, 10, n)
        case "n01_normal":
            return rng.normal(0, 1, n)
        case "n02_normal":
            return rng.normal(100, 15, n)
        case "n03_normal":
            return rng.normal(-5, 2, n)
        case "n04_bimodal":
            return np.where(rng.random(n) < 0.3, rng.normal(4, 0.5, n), rng.normal(0, 1, n))
        case "n05_normal":
            return rng.normal(1000, 200, n)
        case "n10_zero_inflated":
            return np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(2, 1, n))
        case "n11_count":
            return rng.poisson(3, n)
        case "n12_count":
            return rng.poisson(20, n)
        case "n13_count":
            return rng.negative_binomial(2, 0.2, n)
        case "n14_count":
            return rng.binomial(4, 0.3, n)
        case "n15_count":
            return rng.geometric(0.1, n)
        case "n16_uniform":
            return rng.uniform(0, 1, n)
        case "n17_uniform":
            return rng.uniform(-100, 100, n)
        case "n18_uniform":
            return rng.uniform(0, 1000, n)
        case "n19_uniform":
            return rng.uniform(10, 20, n)
    mu, sigma = LOGNORMAL[name]
    return rng.lognormal(mu, sigma, n)


def _strings(codes: np.ndarray, values: list[str], nulls: np.ndarray) -> pa.Array:
    indices = pa.array(codes.astype(np.int32), mask=nulls)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values)).cast(pa.string())


def make_table(rows: int, seed: int) -> pa.Table:
    """``rows`` rows of every column, without drift; ``seed`` picks the sample."""
    columns: dict[str, pa.Array] = {}
    for index, name in enumerate(COLUMNS):
        rng = np.random.default_rng([seed, index])
        nulls = rng.random(rows) < NULL_RATE
        if name in NUMERIC:
            columns[name] = pa.array(_numeric(name, rng, rows), mask=nulls)
        else:
            values, shares = categories(name)
            columns[name] = _strings(rng.choice(len(values), size=rows, p=shares), values, nulls)
    return pa.table(columns)


def _floats(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    values = column.to_numpy()
    return values, np.isnan(values)


def _codes(column: pa.ChunkedArray, values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    codes = pc.index_in(column, value_set=pa.array(values))
    nulls = codes.is_null().to_numpy(zero_copy_only=False)
    return codes.fill_null(0).to_numpy().astype(np.int64), nulls


def inject(table: pa.Table, seed: int) -> pa.Table:
    """``table`` (from :func:`make_table`) with the drift of :data:`DRIFT` in exactly those six
    columns; nulls stay where they were except in the null spike."""
    rng = np.random.default_rng([seed, 99])
    rows = table.num_rows
    changed: dict[str, pa.Array] = {}

    values, nulls = _floats(table["n00_normal"])
    changed["n00_normal"] = pa.array(values + SHIFT_SD * 10.0, mask=nulls)
    values, nulls = _floats(table["n01_normal"])
    changed["n01_normal"] = pa.array(values * SD_FACTOR, mask=nulls)
    values, nulls = _floats(table["n06_lognormal"])
    shift = SHIFT_SD * lognormal_sd(*LOGNORMAL["n06_lognormal"])
    changed["n06_lognormal"] = pa.array(values + shift, mask=nulls)
    values, nulls = _floats(table["n16_uniform"])
    extra = rng.random(rows) < (NULL_SPIKE - NULL_RATE) / (1 - NULL_RATE)
    changed["n16_uniform"] = pa.array(np.where(nulls, 0.0, values), mask=nulls | extra)

    names, shares = categories("c0_cat8")
    codes, nulls = _codes(table["c0_cat8"], names)
    moved = (codes == 0) & (rng.random(rows) < TOP_SHARE_DROP / shares[0])
    rest = shares[1:] / shares[1:].sum()
    codes[moved] = 1 + rng.choice(len(rest), size=int(moved.sum()), p=rest)
    changed["c0_cat8"] = _strings(codes, names, nulls)

    names, _ = categories("c1_cat12")
    codes, nulls = _codes(table["c1_cat12"], names)
    codes[rng.random(rows) < NEW_CATEGORY_SHARE] = len(names)
    changed["c1_cat12"] = _strings(codes, [*names, NEW_CATEGORY], nulls)

    for name, array in changed.items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


@cache
def reference_table() -> pa.Table:
    """The 1,000,000-row reference sample (seed :data:`REFERENCE_SEED`)."""
    return make_table(REFERENCE_ROWS, REFERENCE_SEED)


@cache
def reference_profile() -> ReferenceProfile:
    """The profile of :func:`reference_table`, built once per process."""
    return build_profile(reference_table())


def simulate(trials: int, rows: int = 1_000, matched: bool = False) -> dict[str, object]:
    """Run the default rule on ``trials`` same-distribution windows and ``trials`` drifted
    ones of ``rows`` rows: how many windows raised any flag (false alarms), and how many
    drifted windows were flagged exactly on :data:`DRIFTED`. ``matched`` compares each window
    with a reference of its own size instead of the 1M-row one."""
    from skewless.monitoring._drift import compare

    false_alarms: dict[str, int] = {}
    alarmed = exact = 0
    missed: dict[str, int] = {}
    extra: dict[str, int] = {}
    for trial in range(trials):
        profile = build_profile(make_table(rows, 3_000_000 + trial)) if matched \
            else reference_profile()
        window = make_table(rows, 1_000_000 + trial)
        flagged = [v.name for v in compare(profile, window) if v.flagged]
        alarmed += bool(flagged)
        for name in flagged:
            false_alarms[name] = false_alarms.get(name, 0) + 1
        flagged = sorted(v.name for v in compare(profile, inject(window, trial)) if v.flagged)
        exact += flagged == DRIFTED
        for name in set(DRIFTED) - set(flagged):
            missed[name] = missed.get(name, 0) + 1
        for name in set(flagged) - set(DRIFTED):
            extra[name] = extra.get(name, 0) + 1
    return {"rows": rows, "reference": "matched" if matched else f"{REFERENCE_ROWS:,} rows",
            "trials": trials, "no_drift_windows_with_a_false_alarm": alarmed,
            "false_alarm_rate": alarmed / trials, "false_alarms_by_column": false_alarms,
            "drifted_windows_flagged_exactly": exact, "exact_rate": exact / trials,
            "missed_by_column": missed, "extra_flags_by_column": extra}


if __name__ == "__main__":
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(description="False-alarm and detection rates of the "
                                     "default drift rule on seeded windows.")
    parser.add_argument("--trials", type=int, default=600)
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--matched", action="store_true",
                        help="compare with a reference of the window's size")
    args = parser.parse_args()
    started = time.perf_counter()
    result = simulate(args.trials, args.rows, args.matched)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
