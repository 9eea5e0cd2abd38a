"""Generate the monitoring benchmark's data (seeded) into ``benchmarks/.data/monitoring``.

Files (each column drawn from its own seeded stream, so rows are independent and the first
``n`` rows of a file are a sample of ``n`` rows):

* ``reference.parquet``: 1,000,000 rows, 20 numeric and 5 categorical columns (below);
* ``current.parquet``: 1,000,000 rows of the same columns, another seed, with drift injected
  into exactly the 6 columns of ``workload.DRIFT``;
* ``current-1k.parquet``, ``current-100k.parquet`` and ``reference-1k.parquet``,
  ``reference-100k.parquet``: the first rows of those two files;
* ``nodrift-current-1k.parquet`` and ``nodrift-reference-1k.parquet``: trial ``t`` is rows
  ``t*1000 .. (t+1)*1000``; both drawn from the reference distribution with seeds of their
  own (no drift: every column any tool flags on them is a false alarm);
* ``manifest.json``, written last: the seed, the row counts and the columns.

Numeric columns (float64; the counts are int64), each with about 1% nulls:
normal (5), a bimodal mixture of two normals, lognormal (4), zero-inflated lognormal (30%
zeros), integer counts (Poisson 3 and 20, negative binomial, binomial(4, 0.3) - five distinct
values - and geometric), uniform (4). Categorical columns (strings) with Zipf-like shares of 8,
12, 4, 40 and 3 categories, about 1% nulls.

Drift in ``current.parquet``: ``n00_normal`` mean + 0.3 sd; ``n01_normal`` sd x 1.5;
``n06_lognormal`` + 0.3 sd (its sd); ``c0_cat8`` top category 10 points less, the other shares
scaled up; ``c1_cat12`` a new category, ``c1_new``, on 5% of the rows; ``n16_uniform`` 20%
nulls instead of 1%.

Usage::

    .venv/bin/python benchmarks/monitoring/data.py [--data DIR] [--trials N] [--force]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from workload import (
    CATEGORICAL,
    COLUMNS,
    DATA_DIR,
    DRIFT,
    NUMERIC,
    ROWS,
    SEED,
    TRIAL_ROWS,
    TRIALS,
    current_file,
    reference_file,
    trials_file,
)

NULL_RATE = 0.01
NULL_SPIKE_RATE = 0.20
SHIFT_SD = 0.3
SD_FACTOR = 1.5
TOP_SHARE_DROP = 0.10
NEW_CATEGORY_SHARE = 0.05
WINDOWS = (1_000, 100_000)
STREAMS = {"reference": 1, "current": 2, "nodrift-current": 3, "nodrift-reference": 4}
MANIFEST = "manifest.json"

LOGNORMAL = {"n06_lognormal": (3.0, 0.8), "n07_lognormal": (0.0, 1.0),
             "n08_lognormal": (5.0, 0.5), "n09_lognormal": (1.0, 1.2)}
CATEGORY_SHAPES = {"c0_cat8": (8, 1.0), "c1_cat12": (12, 1.2), "c2_cat4": (4, 0.7),
                   "c3_cat40": (40, 1.1), "c4_cat3": (3, 1.5)}  # categories, Zipf exponent


def _lognormal_sd(mu: float, sigma: float) -> float:
    return math.sqrt((math.exp(sigma**2) - 1) * math.exp(2 * mu + sigma**2))


def _numeric(name: str, rng: np.random.Generator, n: int, drift: bool) -> np.ndarray:
    """The values of one numeric column (before nulls)."""
    shifted = drift and name in DRIFT
    match name:
        case "n00_normal":
            return rng.normal(50 + (SHIFT_SD * 10 if shifted else 0), 10, n)
        case "n01_normal":
            return rng.normal(0, SD_FACTOR if shifted else 1.0, n)
        case "n02_normal":
            return rng.normal(100, 15, n)
        case "n03_normal":
            return rng.normal(-5, 2, n)
        case "n04_bimodal":
            upper = rng.random(n) < 0.3
            return np.where(upper, rng.normal(4, 0.5, n), rng.normal(0, 1, n))
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
    values = rng.lognormal(mu, sigma, n)
    return values + SHIFT_SD * _lognormal_sd(mu, sigma) if shifted else values


def category_shares(name: str, drift: bool) -> tuple[list[str], np.ndarray]:
    """The categories of a column and their shares among its non-null values."""
    count, exponent = CATEGORY_SHAPES[name]
    values = [f"{name.split('_')[0]}_{k:02d}" for k in range(count)]
    shares = 1.0 / np.arange(1, count + 1) ** exponent
    shares /= shares.sum()
    if drift and name == "c0_cat8":
        rest = 1.0 - shares[0]
        shares[1:] *= (rest + TOP_SHARE_DROP) / rest
        shares[0] -= TOP_SHARE_DROP
    if drift and name == "c1_cat12":
        values.append(f"{name.split('_')[0]}_new")
        shares = np.append(shares * (1 - NEW_CATEGORY_SHARE), NEW_CATEGORY_SHARE)
    return values, shares


def _categorical(name: str, rng: np.random.Generator, n: int, drift: bool) -> pa.Array:
    values, shares = category_shares(name, drift)
    codes = rng.choice(len(values), size=n, p=shares).astype(np.int32)
    return pa.DictionaryArray.from_arrays(codes, pa.array(values)).cast(pa.string())


def table(rows: int, stream: str, drift: bool) -> pa.Table:
    """``rows`` rows of every column; ``drift`` injects the drift of ``workload.DRIFT``."""
    columns = {}
    for index, name in enumerate(COLUMNS):
        rng = np.random.default_rng([SEED, STREAMS[stream], index])
        null_rate = NULL_SPIKE_RATE if drift and name == "n16_uniform" else NULL_RATE
        nulls = rng.random(rows) < null_rate
        if name in NUMERIC:
            values = _numeric(name, rng, rows, drift)
            columns[name] = pa.array(values, mask=nulls)
        else:
            columns[name] = _with_nulls(_categorical(name, rng, rows, drift), nulls)
    return pa.table(columns)


def _with_nulls(array: pa.Array, nulls: np.ndarray) -> pa.Array:
    """``array`` with nulls where ``nulls`` is true."""
    return pc.if_else(pa.array(nulls), pa.scalar(None, array.type), array)


def _write(path: Path, data: pa.Table) -> None:
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(data, tmp)
    tmp.replace(path)


def _manifest(trials: int) -> dict[str, object]:
    return {"seed": SEED, "rows": ROWS, "windows": list(WINDOWS), "trial_rows": TRIAL_ROWS,
            "trials": trials, "numeric": NUMERIC, "categorical": CATEGORICAL, "drift": DRIFT}


def is_generated(data_dir: Path, trials: int) -> bool:
    """Whether ``data_dir`` holds a complete data set with at least ``trials`` trials."""
    path = data_dir / MANIFEST
    if not path.exists():
        return False
    found = json.loads(path.read_text())
    return found == _manifest(found.get("trials", 0)) and found["trials"] >= trials


def generate(data_dir: Path, trials: int) -> None:
    """Write every file; ``manifest.json`` last, so a half-written folder never counts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MANIFEST).unlink(missing_ok=True)
    for stream, drift in (("reference", False), ("current", True)):
        full = table(ROWS, stream, drift)
        path = reference_file if stream == "reference" else current_file
        _write(path(data_dir, ROWS), full)
        for rows in WINDOWS:
            _write(path(data_dir, rows), full.slice(0, rows))
        del full
    for side in ("current", "reference"):
        _write(trials_file(data_dir, side), table(trials * TRIAL_ROWS, f"nodrift-{side}", False))
    (data_dir / MANIFEST).write_text(json.dumps(_manifest(trials), indent=2) + "\n")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--trials", type=int, default=TRIALS["full"],
                        help=f"no-drift trials (default {TRIALS['full']})")
    parser.add_argument("--force", action="store_true", help="write even when present")
    args = parser.parse_args()
    if not args.force and is_generated(args.data, args.trials):
        print(f"{args.data}: already generated")
        return
    generate(args.data, args.trials)
    print(f"wrote {args.data}: {ROWS:,} reference and current rows, windows "
          f"{', '.join(f'{w:,}' for w in WINDOWS)}, {args.trials} no-drift trials of "
          f"{TRIAL_ROWS:,} rows")


if __name__ == "__main__":
    main()
