"""The training frame: labels joined point-in-time with a feature service's features.

A ``TrainingFrame`` is the frame ``get_historical_features`` returns for the labels, plus what a
registered model must remember about it: which service and which definition versions (by
content hash) produced each column, the ordered feature vector, the label, the time range and a
content fingerprint of the frame itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.errors import TrainingError
from skewless.features._definitions import FeatureService

if TYPE_CHECKING:
    import pandas as pd

    from skewless._store import FeatureStore
    from skewless.features._catalogue import Catalogue, ResolvedFeatures

__all__ = ["FeatureColumn", "TrainingFrame", "build_training_frame", "definition_hashes",
           "fingerprint"]


@dataclass(frozen=True)
class FeatureColumn:
    """One position of the model's feature vector: its column name, reference and dtype."""

    name: str
    ref: str
    dtype: str


@dataclass(frozen=True)
class TrainingFrame:
    """Labels with their point-in-time features, and the provenance a model version keeps.

    ``table`` holds the label frame's columns (entity keys, timestamp, request fields, label)
    followed by the features, in the service's order. ``definition_hashes`` maps
    ``"kind:name"`` of the service and of every view it reads to the content hash that was
    applied when the frame was built.
    """

    table: pa.Table
    service: str
    definition_hashes: dict[str, str]
    entity_keys: list[str]
    entity_dtypes: dict[str, str]
    request_fields: list[FeatureColumn]
    features: list[FeatureColumn]
    label: str
    timestamp_column: str
    fingerprint: str

    @property
    def feature_names(self) -> list[str]:
        """The model's feature vector, in order."""
        return [f.name for f in self.features]

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def time_range(self) -> tuple[datetime, datetime]:
        """The earliest and latest label timestamps."""
        bounds = pc.min_max(self.table[self.timestamp_column])
        return bounds["min"].as_py(), bounds["max"].as_py()

    def X(self) -> np.ndarray:
        """The feature vectors as a float64 matrix (nulls become NaN), one row per label."""
        columns = []
        for feature in self.features:
            column = self.table[feature.name]
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                    or pa.types.is_boolean(column.type)):
                raise TrainingError(
                    f"feature {feature.name!r} is {column.type}, not numeric; a matrix needs "
                    "numbers — encode it in an on-demand view, or use to_pandas() and a "
                    "pipeline that encodes it")
            columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        if not columns:
            return np.empty((self.num_rows, 0))
        return np.column_stack(columns).astype(np.float64, copy=False)

    def y(self) -> np.ndarray:
        """The label column as a NumPy array."""
        return self.table[self.label].to_numpy(zero_copy_only=False)

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def subset(self, mask: pa.Array | np.ndarray) -> TrainingFrame:
        """The rows where ``mask`` is true, with the same provenance (and the whole frame's
        fingerprint, which is what the model's data came from)."""
        return replace(self, table=self.table.filter(pa.array(mask, pa.bool_())))


def fingerprint(table: pa.Table) -> str:
    """SHA-256 of the frame's content: column names, types and values, in row order.

    Computed over the Arrow IPC stream of the table as one batch with its schema metadata
    dropped, so the same data gives the same fingerprint however it was chunked or made.
    """
    digest = hashlib.sha256()
    clean = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, clean.schema) as writer:
        for batch in clean.to_batches():
            writer.write_batch(batch)
    digest.update(sink.getvalue())
    return digest.hexdigest()


def definition_hashes(catalogue: Catalogue, service: FeatureService,
                      resolved: ResolvedFeatures) -> dict[str, str]:
    """``"kind:name" → content hash`` of the service and every definition it reads."""
    hashes = {f"{service.kind}:{service.name}": service.definition_hash}
    for view, _ in resolved.views:
        hashes[f"{view.kind}:{view.name}"] = catalogue.views[view.name].definition_hash
    for odfv in resolved.on_demand:
        hashes[f"{odfv.kind}:{odfv.name}"] = odfv.definition_hash
    return dict(sorted(hashes.items()))


def _label_column(table: pa.Table, label: str | None, taken: set[str]) -> str:
    if label is not None:
        if label not in table.column_names:
            raise TrainingError(f"the labels have no column {label!r}; their columns are "
                                f"{', '.join(table.column_names)}")
        if label in taken:
            raise TrainingError(f"{label!r} is an entity key, the timestamp or a request field, "
                                "not a label; name the label column")
        return label
    rest = [name for name in table.column_names if name not in taken]
    if len(rest) != 1:
        found = ", ".join(rest) if rest else "none"
        raise TrainingError(f"cannot tell which column is the label (candidates: {found}); "
                            "pass label='COLUMN'")
    return rest[0]


def build_training_frame(store: FeatureStore, labels: Any, service: str | FeatureService, *,
                         label: str | None, timestamp_column: str, full_names: bool
                         ) -> TrainingFrame:
    """Join ``labels`` with ``service``'s features; see ``FeatureStore.get_training_frame``."""
    from skewless._historical import to_arrow_table

    catalogue = store.catalogue
    name = service.name if isinstance(service, FeatureService) else service
    if not isinstance(name, str):
        raise TrainingError(f"service must be a feature service or its name, not {service!r}")
    applied = catalogue.service(name)
    if isinstance(service, FeatureService) and \
            service.definition_hash != applied.definition_hash:
        raise TrainingError(f"feature service {name!r} differs from the applied one; run "
                            "`skewless apply` first, so the model records what is served")
    table = to_arrow_table(labels, "labels")
    resolved = catalogue.resolve(name)
    if timestamp_column not in table.column_names:
        raise TrainingError(f"the labels have no timestamp column {timestamp_column!r}; pass "
                            "timestamp_column='COLUMN'")
    requests = [r.name for r in resolved.request_fields]
    missing = [k for k in [*resolved.join_keys, *requests] if k not in table.column_names]
    if missing:
        raise TrainingError(f"the labels lack column(s) {', '.join(missing)} that service "
                            f"{name!r} needs (entity keys and request fields)")
    label_name = _label_column(table, label, {*resolved.join_keys, timestamp_column, *requests})
    if table[label_name].null_count:
        raise TrainingError(f"label column {label_name!r} has {table[label_name].null_count} "
                            "null value(s); drop or fill those rows before training")
    table = table.select([*resolved.join_keys, timestamp_column, *requests, label_name])
    result = store.get_historical_features(table, name, full_names=full_names,
                                           timestamp_column=timestamp_column)
    names = resolved.output_names(full_names)
    features = [FeatureColumn(column, str(ref), resolved.dtypes[ref])
                for column, ref in zip(names, resolved.requested, strict=True)]
    return TrainingFrame(
        table=result.table,
        service=name,
        definition_hashes=definition_hashes(catalogue, applied, resolved),
        entity_keys=resolved.join_keys,
        entity_dtypes=resolved.entity_dtypes,
        request_fields=[FeatureColumn(r.name, r.name, r.dtype) for r in resolved.request_fields],
        features=features,
        label=label_name,
        timestamp_column=timestamp_column,
        fingerprint=fingerprint(result.table),
    )
