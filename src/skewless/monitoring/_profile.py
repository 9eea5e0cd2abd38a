"""Reference profiles: what a model's training data looked like, stored with the model version.

A profile keeps, per column, everything drift and data-quality checks need later so that they
never re-read the training data: null and non-finite counts, range, mean, standard deviation,
median, equal-frequency quantile bins with their reference counts and a seeded sorted sample
(numeric columns), or the most frequent categories with their counts (categorical columns).
Serving uses :attr:`FeatureProfile.default` when the online store cannot answer.

Every statistic is computed from the *sorted* non-missing values of a column, so a profile
depends only on the multiset of each column's values and the settings — not on row order,
chunking, or whether the data came as a pandas or an Arrow frame.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.errors import TrainingError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMAT_VERSION",
    "Category",
    "FeatureKind",
    "FeatureProfile",
    "ReferenceProfile",
    "build_profile",
    "profile_values",
]

FORMAT_VERSION = 1
"""Version of the JSON layout written by :meth:`ReferenceProfile.to_json`."""

FeatureKind: TypeAlias = Literal["numeric", "categorical"]
Category: TypeAlias = str | bool | int
"""A category value: ``str`` for string and dictionary columns, ``bool`` for boolean columns,
``int`` for integer columns profiled as categorical."""

_KINDS = ("numeric", "categorical")
_SUPPORTED = ("numeric: integer, floating point, decimal, duration and time-of-day columns; "
              "categorical: string, boolean and dictionary (pandas Categorical) columns; "
              "timestamp and date columns are skipped with a recorded reason")
_TEMPORAL_REASON = ("{type} column: absolute time always drifts away from the training data; "
                    "profile a derived feature instead (an age or a duration)")
_SECONDS_PER_UNIT = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


@dataclass(frozen=True)
class FeatureProfile:
    """The reference distribution of one column (or of a model's predictions).

    Common to both kinds: ``rows`` counted, ``null_count`` (nulls *and* NaN: pandas writes a
    missing float as NaN, Arrow as null, and a profile must not depend on which) and ``dtype``,
    the column's Arrow type with dictionaries decoded and ``large_string``/``string_view``
    written ``string``, so a pandas Categorical, a pandas ``str`` column and an Arrow
    ``string`` column all profile as ``string``.

    Numeric profiles describe the :attr:`count` finite values; ``infinite_count`` values of
    ±inf are counted apart and left out of every statistic (a ratio feature may divide by
    zero; one inf must not turn the mean, the bins and the sample into inf or NaN).

    - ``min``, ``max``, ``mean``, ``std`` (population, ``ddof=0``), ``median``
      (``numpy.median``); all ``None`` when there is no finite value;
    - ``edges``: the interior bin edges — ``numpy.quantile`` (linear) of the finite values at
      ``i / bins`` for ``i = 1 .. bins-1``, deduplicated, without those ``<= min`` (they would
      bound an empty first bin). The outer edges are -inf and +inf, so there are
      ``len(edges) + 1`` bins and a constant column has a single one. Bins are closed on the
      left: value ``x`` falls in bin ``searchsorted(edges, x, side="right")``, i.e. bin ``k`` is
      ``edges[k-1] <= x < edges[k]``; :meth:`count_bins` applies exactly this rule;
    - ``bin_counts``: how many finite values fall in each bin (:attr:`bin_proportions` divides
      them by :attr:`count`);
    - ``sample``: ``min(count, sample_size)`` finite values drawn uniformly without
      replacement from the sorted values with a fixed seed (all of them when fewer), sorted.
      KS and Wasserstein distances are computed against it, so they are reproducible exactly.

    Categorical profiles: ``categories`` holds ``(value, count)`` for the ``max_categories``
    most frequent non-null values, by count descending then value ascending;
    ``other_count`` counts the remaining non-null values, and ``distinct_count`` the distinct
    non-null values — when it exceeds ``len(categories)`` the list is incomplete, and a
    serving value missing from it may be rare rather than unseen.
    """

    name: str
    kind: FeatureKind
    dtype: str
    rows: int
    null_count: int
    infinite_count: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    edges: tuple[float, ...] = ()
    bin_counts: tuple[int, ...] = ()
    sample: tuple[float, ...] = ()
    categories: tuple[tuple[Category, int], ...] = ()
    other_count: int = 0
    distinct_count: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "numeric":
            if self.categories or self.other_count or self.distinct_count:
                raise ValueError(f"numeric profile {self.name!r} cannot have categories")
            if self.count and len(self.bin_counts) != len(self.edges) + 1:
                raise ValueError(f"profile {self.name!r}: {len(self.edges)} edges need "
                                 f"{len(self.edges) + 1} bin counts, got {len(self.bin_counts)}")
        elif (self.infinite_count or self.edges or self.bin_counts or self.sample
              or any(v is not None for v in (self.min, self.max, self.mean, self.std,
                                                 self.median))):
            raise ValueError(f"categorical profile {self.name!r} cannot have numeric statistics")

    @property
    def count(self) -> int:
        """Values the distribution describes: non-null, non-NaN and (numeric) finite."""
        return self.rows - self.null_count - self.infinite_count

    @property
    def null_rate(self) -> float:
        """``null_count / rows`` (0.0 for no rows)."""
        return self.null_count / self.rows if self.rows else 0.0

    @property
    def bin_proportions(self) -> tuple[float, ...]:
        """Reference share of each bin: ``bin_counts / count`` (empty without finite values)."""
        return tuple(c / self.count for c in self.bin_counts) if self.count else ()

    @property
    def category_shares(self) -> dict[Category, float]:
        """Share of each profiled category among the non-null values."""
        return {v: c / self.count for v, c in self.categories} if self.count else {}

    @property
    def other_share(self) -> float:
        """Share of the non-null values outside the profiled categories."""
        return self.other_count / self.count if self.count else 0.0

    @property
    def most_frequent(self) -> Category | None:
        """The most frequent category (ties: the smallest value); ``None`` if numeric or empty."""
        return self.categories[0][0] if self.categories else None

    @property
    def default(self) -> float | int | Category | None:
        """The value serving falls back to when the online store is down.

        The median for numeric columns — rounded to the nearest integer (ties to even) for
        integer columns, so the value has the column's type — and the most frequent category
        for categorical ones; ``None`` when the column had no usable value.
        """
        if self.kind == "categorical":
            return self.most_frequent
        if self.median is None:
            return None
        if self.dtype.startswith(("int", "uint")):
            return round(self.median)
        return self.median

    def count_bins(self, values: Any) -> np.ndarray:
        """How many of ``values`` fall in each of this profile's bins.

        ``values`` is anything :func:`profile_values` accepts; nulls, NaN and ±inf are left
        out, as when the profile was built, so for the training column itself the result
        equals :attr:`bin_counts`. Drift (PSI) compares these counts with the reference.
        """
        if self.kind != "numeric":
            raise TrainingError(f"{self.name!r} is categorical: it has categories, not bins")
        finite, _, _ = _finite_floats(self.name, _as_chunked(self.name, values))
        indices = np.searchsorted(np.asarray(self.edges, dtype=np.float64), finite, side="right")
        return np.bincount(indices, minlength=len(self.edges) + 1)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict: NaN and ±inf are written as the strings ``"nan"``, ``"inf"`` and
        ``"-inf"``, a missing statistic as ``null``; only the fields of the profile's kind."""
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "dtype": self.dtype,
                                "rows": self.rows, "null_count": self.null_count}
        if self.kind == "numeric":
            data["infinite_count"] = self.infinite_count
            for key in ("min", "max", "mean", "std", "median"):
                data[key] = _float_to_json(getattr(self, key))
            data["edges"] = _floats_to_json(self.edges)
            data["bin_counts"] = list(self.bin_counts)
            data["sample"] = _floats_to_json(self.sample)
        else:
            data["categories"] = [[value, count] for value, count in self.categories]
            data["other_count"] = self.other_count
            data["distinct_count"] = self.distinct_count
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureProfile:
        """The profile :meth:`to_json` wrote, equal to the original bit for bit."""
        try:
            common = {"name": str(data["name"]), "kind": data["kind"],
                      "dtype": str(data["dtype"]), "rows": int(data["rows"]),
                      "null_count": int(data["null_count"])}
            if data["kind"] == "numeric":
                return cls(**common, infinite_count=int(data["infinite_count"]),
                           **{key: _float_from_json(data[key])
                              for key in ("min", "max", "mean", "std", "median")},
                           edges=tuple(map(_float_from_json, data["edges"])),
                           bin_counts=tuple(int(c) for c in data["bin_counts"]),
                           sample=tuple(map(_float_from_json, data["sample"])))
            return cls(**common,
                       categories=tuple((value, int(count)) for value, count in data["categories"]),
                       other_count=int(data["other_count"]),
                       distinct_count=int(data["distinct_count"]))
        except (KeyError, TypeError, ValueError) as error:
            raise TrainingError(f"not a feature profile written by skewless: {error!r}") from error


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference profile of a model version: one :class:`FeatureProfile` per column of
    its training data, in column order, and one of its validation predictions.

    ``skipped`` maps each column left out to the reason (timestamp and date columns);
    nothing else is ever left out. ``bins``, ``sample_size``, ``max_categories`` and ``seed``
    are the settings the profile was built with; ``version`` is the JSON layout's.
    """

    rows: int
    features: dict[str, FeatureProfile]
    predictions: FeatureProfile | None = None
    created_from: str = ""
    skipped: dict[str, str] = field(default_factory=dict)
    bins: int = 10
    sample_size: int = 5000
    max_categories: int = 50
    seed: int = 0
    version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        """A dict that ``json.dumps(..., allow_nan=False)`` accepts and :meth:`from_json`
        turns back into an equal profile (floats bit-exact, see :meth:`FeatureProfile.to_json`)."""
        return {"version": self.version, "rows": self.rows, "created_from": self.created_from,
                "settings": {"bins": self.bins, "sample_size": self.sample_size,
                             "max_categories": self.max_categories, "seed": self.seed},
                "features": [profile.to_json() for profile in self.features.values()],
                "predictions": None if self.predictions is None else self.predictions.to_json(),
                "skipped": dict(self.skipped)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceProfile:
        """Read a profile written by :meth:`to_json`; refuses a newer layout version."""
        try:
            version = int(data["version"])
            if version > FORMAT_VERSION:
                raise TrainingError(f"this reference profile has format version {version}, "
                                    f"newer than this skewless reads ({FORMAT_VERSION}); "
                                    f"upgrade skewless to read it")
            settings = data["settings"]
            features = [FeatureProfile.from_json(item) for item in data["features"]]
            predictions = data.get("predictions")
            return cls(rows=int(data["rows"]),
                       features={profile.name: profile for profile in features},
                       predictions=None if predictions is None
                       else FeatureProfile.from_json(predictions),
                       created_from=str(data["created_from"]),
                       skipped={str(k): str(v) for k, v in data["skipped"].items()},
                       bins=int(settings["bins"]), sample_size=int(settings["sample_size"]),
                       max_categories=int(settings["max_categories"]),
                       seed=int(settings["seed"]), version=version)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise TrainingError(f"not a reference profile written by skewless: {error!r}") \
                from error


def build_profile(table: pa.Table | pd.DataFrame, columns: Sequence[str] | None = None, *,
                  bins: int = 10, sample_size: int = 5000, max_categories: int = 50,
                  seed: int = 0, categorical: Collection[str] = (),
                  predictions: Any = None, created_from: str = "") -> ReferenceProfile:
    """Profile the columns of a training frame (a ``pyarrow.Table`` or ``pandas.DataFrame``).

    ``columns`` defaults to all of them. Integer, floating point, decimal, duration and
    time-of-day columns are numeric (durations and times in seconds); string, boolean and
    dictionary columns are categorical, and so are the integer columns named in
    ``categorical`` (class ids, codes). Timestamp and date columns are skipped and recorded in
    :attr:`ReferenceProfile.skipped`; any other type raises :class:`TrainingError` naming the
    column. ``predictions`` (any 1-D array :func:`profile_values` accepts) is profiled with
    the same settings under the name ``"prediction"``.
    """
    _check_settings(bins, sample_size, max_categories, seed)
    names, get = _columns_of(table)
    for label, names_given in (("columns", columns), ("categorical", categorical)):
        if isinstance(names_given, str):
            raise TrainingError(f"{label} must be a list of column names, "
                                f"got the string {names_given!r}")
    wanted = list(names if columns is None else columns)
    missing = [name for name in wanted if name not in names]
    if missing:
        raise TrainingError(f"no column {', '.join(map(repr, missing))} in the frame; "
                            f"its columns are {', '.join(map(repr, names))}")
    duplicated = sorted(name for name, times in Counter(wanted).items() if times > 1)
    if duplicated:
        raise TrainingError(f"column {', '.join(map(repr, duplicated))} is listed more than once")
    unknown = sorted(set(categorical) - set(wanted))
    if unknown:
        raise TrainingError(f"categorical names {', '.join(map(repr, unknown))}, which "
                            f"{'is' if len(unknown) == 1 else 'are'} not profiled")
    features: dict[str, FeatureProfile] = {}
    skipped: dict[str, str] = {}
    indices: dict[tuple[int, int], np.ndarray] = {}
    for name in wanted:
        values = get(name)
        reason = _skip_reason(values.type)
        if reason is not None:
            if name in categorical:
                raise TrainingError(f"column {name!r} is a {values.type} column and cannot be "
                                    f"categorical; {_SUPPORTED}")
            skipped[name] = reason
            continue
        kind: FeatureKind | None = "categorical" if name in categorical else None
        features[name] = _profile(name, values, kind, bins, sample_size, max_categories,
                                  seed, indices)
    prediction_profile = None
    if predictions is not None:
        prediction_profile = _profile("prediction", _as_chunked("prediction", predictions), None,
                                      bins, sample_size, max_categories, seed, indices)
    return ReferenceProfile(rows=_num_rows(table), features=features,
                            predictions=prediction_profile, created_from=created_from,
                            skipped=skipped, bins=bins, sample_size=sample_size,
                            max_categories=max_categories, seed=seed)


def profile_values(name: str, values: Any, *, bins: int = 10, sample_size: int = 5000,
                   max_categories: int = 50, seed: int = 0,
                   kind: FeatureKind | None = None) -> FeatureProfile:
    """Profile one array — a ``pyarrow`` array, a ``numpy`` array, a ``pandas.Series`` or a
    list — the way :func:`build_profile` profiles a column; used for model predictions.

    ``kind="categorical"`` profiles an integer array as categories (predicted class ids).
    Timestamp and date arrays raise :class:`TrainingError`: there is nowhere to record a skip.
    """
    _check_settings(bins, sample_size, max_categories, seed)
    chunked = _as_chunked(name, values)
    reason = _skip_reason(chunked.type)
    if reason is not None:
        raise TrainingError(f"cannot profile {name!r}: {reason}")
    return _profile(name, chunked, kind, bins, sample_size, max_categories, seed, {})


def _check_settings(bins: int, sample_size: int, max_categories: int, seed: int) -> None:
    for label, value, low in (("bins", bins, 1), ("sample_size", sample_size, 1),
                              ("max_categories", max_categories, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise TrainingError(f"{label} must be an integer >= {low}, got {value!r}")


def _columns_of(table: Any) -> tuple[list[str], Any]:
    """The column names of an Arrow or pandas frame and a function returning one column as a
    ``ChunkedArray`` (pandas columns are converted one at a time, only when profiled)."""
    if isinstance(table, pa.Table):
        names = table.column_names
        duplicated = sorted(name for name, times in Counter(names).items() if times > 1)
        if duplicated:
            raise TrainingError(f"the table has more than one column named "
                                f"{', '.join(map(repr, duplicated))}")
        return names, table.column
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(table, pandas.DataFrame):
        if not table.columns.is_unique:
            raise TrainingError("the DataFrame has duplicate column names: "
                                f"{sorted(map(str, table.columns[table.columns.duplicated()]))}")
        labels = {str(label): label for label in table.columns}
        return list(labels), lambda name: _as_chunked(name, table[labels[name]])
    raise TrainingError(f"build_profile takes a pyarrow.Table or a pandas.DataFrame, "
                        f"got {type(table).__name__}")


def _num_rows(table: Any) -> int:
    return table.num_rows if isinstance(table, pa.Table) else len(table)


def _as_chunked(name: str, values: Any) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    if isinstance(values, pa.Array):
        return pa.chunked_array([values])
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise TrainingError(f"{name!r} must be one-dimensional, got shape {values.shape}; "
                            f"profile one column (e.g. the positive-class probability)")
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise TrainingError(f"column {name!r} cannot be read as one typed column ({error}); "
                            f"give it a single type. Supported: {_SUPPORTED}") from error
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _skip_reason(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return _TEMPORAL_REASON.format(type=arrow_type)
    return None


def _logical_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return pa.string()
    return arrow_type


def _is_numeric(arrow_type: pa.DataType) -> bool:
    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_decimal(arrow_type) or pa.types.is_duration(arrow_type)
            or pa.types.is_time(arrow_type))


def _is_categorical(arrow_type: pa.DataType) -> bool:
    return (pa.types.is_dictionary(arrow_type) or pa.types.is_string(arrow_type)
            or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_null(arrow_type))


def _profile(name: str, values: pa.ChunkedArray, kind: FeatureKind | None, bins: int,
             sample_size: int, max_categories: int, seed: int,
             indices: dict[tuple[int, int], np.ndarray]) -> FeatureProfile:
    arrow_type = values.type
    if kind not in (None, *_KINDS):
        raise TrainingError(f"kind must be 'numeric', 'categorical' or None, got {kind!r}")
    if pa.types.is_dictionary(arrow_type):
        value_type = arrow_type.value_type
        if not (_is_categorical(value_type) or pa.types.is_integer(value_type)):
            raise TrainingError(f"column {name!r} is a dictionary of {value_type}; "
                                f"dictionary values must be strings, booleans or integers")
        if kind == "numeric":
            raise TrainingError(f"column {name!r} is dictionary-encoded (categorical); "
                                f"it cannot be profiled as numeric")
        values = values.cast(value_type)
        kind = "categorical"
    elif _is_categorical(arrow_type):
        if kind == "numeric":
            raise TrainingError(f"column {name!r} is a {arrow_type} column; "
                                f"it cannot be profiled as numeric")
        kind = "categorical"
    elif _is_numeric(arrow_type):
        if kind == "categorical" and not pa.types.is_integer(arrow_type):
            raise TrainingError(f"column {name!r} is a {arrow_type} column; only integer "
                                f"columns can be profiled as categorical")
        kind = kind or "numeric"
    else:
        raise TrainingError(f"column {name!r} has type {arrow_type}, which cannot be "
                            f"profiled; {_SUPPORTED}. Leave it out of columns or convert it")
    dtype = str(_logical_type(arrow_type))
    if kind == "categorical":
        return _categorical(name, dtype, values, max_categories)
    return _numeric(name, dtype, values, bins, sample_size, seed, indices)


def _finite_floats(name: str, values: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """The finite values as float64, the count of nulls and NaN, and the count of ±inf."""
    arrow_type = values.type
    present = pc.drop_null(values)
    if pa.types.is_duration(arrow_type) or pa.types.is_time(arrow_type):
        floats = present.cast(pa.int64()).to_numpy() / _SECONDS_PER_UNIT[arrow_type.unit]
    elif pa.types.is_decimal(arrow_type):
        floats = present.cast(pa.float64(), safe=False).to_numpy()
    elif _is_numeric(arrow_type):
        floats = present.to_numpy().astype(np.float64, copy=False)
    else:
        raise TrainingError(f"{name!r} is a {arrow_type} column, not numeric")
    nulls = values.null_count
    finite = np.isfinite(floats)
    if finite.all():
        return floats, nulls, 0
    nonfinite = floats[~finite]
    nans = int(np.isnan(nonfinite).sum())
    return floats[finite], nulls + nans, len(nonfinite) - nans


def _numeric(name: str, dtype: str, values: pa.ChunkedArray, bins: int, sample_size: int,
             seed: int, indices: dict[tuple[int, int], np.ndarray]) -> FeatureProfile:
    floats, nulls, infinite = _finite_floats(name, values)
    rows = len(values)
    if not len(floats):
        return FeatureProfile(name, "numeric", dtype, rows, nulls, infinite)
    ordered = np.sort(floats)
    n = len(ordered)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(ordered)), float(np.std(ordered))
        if bins > 1:
            edges = np.unique(np.quantile(ordered, np.arange(1, bins) / bins))
            edges = edges[edges > ordered[0]]
        else:
            edges = np.empty(0)
    bounds = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate(([0], bounds, [n])))
    if n <= sample_size:
        sample = ordered
    else:
        key = (n, sample_size)
        if key not in indices:
            indices[key] = _sample_indices(n, sample_size, seed)
        sample = ordered[indices[key]]
    return FeatureProfile(
        name, "numeric", dtype, rows, nulls, infinite,
        min=float(ordered[0]), max=float(ordered[-1]), mean=mean, std=std,
        median=float(np.median(ordered)),
        edges=tuple(edges.tolist()), bin_counts=tuple(counts.tolist()),
        sample=tuple(sample.tolist()))


def _sample_indices(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct indices in ``range(n)``, uniformly at random, ascending.

    Robert Floyd's algorithm over the raw 64-bit PCG64 stream, with rejection so every draw is
    exactly uniform. It uses no ``numpy.random.Generator`` method — NumPy may change those
    between versions — so a seed selects the same sample with any NumPy version, in O(k).
    """
    draws = _raw_draws(np.random.PCG64(seed), k)
    chosen: set[int] = set()
    for j in range(n - k, n):
        span = j + 1
        limit = (1 << 64) - (1 << 64) % span
        draw = next(draws)
        while draw >= limit:
            draw = next(draws)
        pick = draw % span
        chosen.add(j if pick in chosen else pick)
    return np.fromiter(sorted(chosen), dtype=np.int64, count=k)


def _raw_draws(bits: np.random.PCG64, batch: int) -> Iterator[int]:
    while True:
        yield from bits.random_raw(batch).tolist()


def _categorical(name: str, dtype: str, values: pa.ChunkedArray,
                 max_categories: int) -> FeatureProfile:
    rows, nulls = len(values), values.null_count
    if nulls == rows:
        return FeatureProfile(name, "categorical", dtype, rows, nulls)
    counted = pc.value_counts(pc.drop_null(values))
    frequencies = pa.table({"values": counted.field("values"), "counts": counted.field("counts")})
    order = [("counts", "descending"), ("values", "ascending")]
    if len(frequencies) > max_categories:
        top = pc.select_k_unstable(frequencies, max_categories, sort_keys=order)
    else:
        top = pc.sort_indices(frequencies, sort_keys=order)
    kept = frequencies.take(top)
    categories = tuple(zip(kept.column("values").to_pylist(), kept.column("counts").to_pylist(),
                           strict=True))
    other = rows - nulls - sum(count for _, count in categories)
    return FeatureProfile(name, "categorical", dtype, rows, nulls, categories=categories,
                          other_count=other, distinct_count=len(frequencies))


def _float_to_json(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _floats_to_json(values: tuple[float, ...]) -> list[float | str | None]:
    if all(map(math.isfinite, values)):
        return list(values)
    return [_float_to_json(value) for value in values]


def _float_from_json(value: float | int | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"{value!r} is not a number, 'nan', 'inf' or '-inf'")
        return _NONFINITE[value]
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    return float(value)
