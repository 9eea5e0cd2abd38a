"""ONNX models: a portable graph of standard operators, run by onnxruntime, never Python code.

``load`` returns a wrapper over ``onnxruntime.InferenceSession`` with the usual ``predict`` (and
``predict_proba`` when the graph has a probabilities output, as skl2onnx classifiers do).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from skewless.errors import RegistryError
from skewless.flavors._base import Flavor, framework, qualified_name, top_package, translate

__all__ = ["OnnxClassifier", "OnnxFlavor", "OnnxModel"]

_FILE = "model.onnx"
_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxModel:
    """A loaded ONNX model: ``predict(X)`` feeds the graph and returns its first output."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._dtypes = {node.name: _DTYPES.get(node.type, np.float32)
                        for node in session.get_inputs()}
        self._outputs = [node.name for node in session.get_outputs()]

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        """Inputs by name, each cast to its element type; a non-dict ``X`` needs one input."""
        if not isinstance(X, Mapping):
            if len(self._dtypes) != 1:
                raise RegistryError(f"this ONNX model has inputs {sorted(self._dtypes)}; pass "
                                    "a dict {input name: array} to predict")
            X = {next(iter(self._dtypes)): X}
        if set(X) != set(self._dtypes):
            raise RegistryError(f"this ONNX model has inputs {sorted(self._dtypes)}, got "
                                f"{sorted(X)}; pass exactly one array per input")
        return {name: np.asarray(value, dtype=self._dtypes[name]) for name, value in X.items()}

    def _run(self, output: str, X: Any) -> Any:
        return self.session.run([output], self._feed(X))[0]

    def predict(self, X: Any) -> Any:
        """The graph's first output (the labels, for a skl2onnx classifier)."""
        return self._run(self._outputs[0], X)


class OnnxClassifier(OnnxModel):
    """A loaded ONNX classifier: also ``predict_proba``, from its probabilities output."""

    def __init__(self, session: Any, probabilities: str) -> None:
        super().__init__(session)
        self._probabilities = probabilities

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probabilities output, one column per class (a ZipMap's dicts become columns)."""
        result = self._run(self._probabilities, X)
        if isinstance(result, list):  # ZipMap: one {class: probability} dict per row
            return np.array([list(row.values()) for row in result], dtype=np.float32)
        return result


class OnnxFlavor(Flavor):
    """``onnx.ModelProto`` (or its serialized bytes, when named explicitly) as ``model.onnx``."""

    name: ClassVar[str] = "onnx"
    packages: ClassVar[tuple[str, ...]] = ("onnx", "onnxruntime")
    accepts: ClassVar[str] = "onnx ModelProto (or serialized ONNX bytes with flavor='onnx')"

    def matches(self, model: object) -> bool:
        """``onnx.ModelProto`` only; bytes are ONNX only when the caller says so."""
        return top_package(model) == "onnx" and type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """Write the serialized graph; the spec records its input and output names."""
        onnx = framework("onnx", "onnx", self.name)
        if isinstance(model, bytes | bytearray):
            with translate("parsing the bytes as an ONNX model", "pass a serialized ONNX model"):
                model = onnx.load_model_from_string(bytes(model))
        if not isinstance(model, onnx.ModelProto):
            raise RegistryError(f"the 'onnx' flavor saves onnx.ModelProto or its bytes, not "
                                f"{qualified_name(model)}; convert the model to ONNX first "
                                "(e.g. with skl2onnx)")
        graph = model.graph
        if not graph.input or not graph.output:
            raise RegistryError("the ONNX model has no graph inputs or outputs; pass a complete "
                                "model (serialized bytes that are not ONNX parse as empty)")
        with translate("writing the ONNX model", "models over 2 GB are not supported"):
            (folder / _FILE).write_bytes(model.SerializeToString())
        return {"file": _FILE,
                "inputs": [node.name for node in graph.input],
                "outputs": [node.name for node in graph.output]}

    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """An onnxruntime session on the CPU, wrapped; a classifier when it has probabilities."""
        path = folder / _FILE
        return self._wrap(str(path), f"opening {path} with onnxruntime")

    def load_file(self, data: bytes) -> OnnxModel:
        """The same as ``load``, from the serialized model's bytes (already verified)."""
        return self._wrap(data, "opening the ONNX model with onnxruntime")

    def _wrap(self, source: str | bytes, action: str) -> OnnxModel:
        ort = framework("onnxruntime", "onnxruntime", self.name)
        with translate(action,
                       "check the installed onnxruntime supports the model's opset and operators"):
            session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        outputs = [node.name for node in session.get_outputs()]
        probabilities = next((name for name in outputs[1:] if "prob" in name.lower()), None)
        if probabilities is None:
            return OnnxModel(session)
        return OnnxClassifier(session, probabilities)
