"""ONNX export of the ranking models, from raw features, through tf2onnx (`pip install 'ctr[onnx]'`).

The model is exported as a SavedModel first, then converted with tf2onnx (opset 17, plus
onnxruntime-extensions' string ops for splitting, regular expressions and lookups), checked with
onnxruntime against the SavedModel's predictions on rows with unseen and missing values, and only
then moved into place. Serve it with `ctr.onnx_session(path)` or, without ctr, an onnxruntime
session that registers `onnxruntime_extensions.get_library_path()`; feed each feature's raw values
(strings, int64, float32) under its name and read `probability`.

Hashed categorical features, and features that spread unseen values over several OOV buckets
(`oov_buckets` > 1, by a hash), cannot be exported: onnxruntime-extensions hashes strings with
another function than TensorFlow, so the served buckets would not be the trained ones.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import data as ctr_data
from ._files import file_in_the_way
from .errors import CtrError
from .export import ExportError, _probe_rows, load
from .features import binary_token
from .spec import FeatureSpec

if TYPE_CHECKING:
    from .export import ServedModel
    from .models.base import RankingModel

OPSET = 17
# onnxruntime lower-cases strings under a named locale; C.UTF-8 is present on every Linux.
LOCALE = "C.UTF-8"


def _require_packages() -> None:
    missing = []
    for module in ("tf2onnx", "onnx", "onnxruntime", "onnxruntime_extensions"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CtrError(f"ONNX export needs {', '.join(missing)}: pip install 'ctr[onnx]'")


def export_onnx(model: RankingModel, path: Path, verify: bool = True) -> Path:
    """Write `model` as one ONNX file at `path` that takes raw features (see the module docstring)."""
    state = model.preprocessor_.state
    return _write(path, model.spec, state, lambda work: model.export(work / "saved_model", verify=verify), verify)


def export_served(served: ServedModel, path: str | Path, verify: bool = True) -> Path:
    """Write a click model's SavedModel export, loaded (`ctr.load`), as one ONNX file at `path`, as
    `model.export(path, format="onnx")` would have: its spec and fitted vocabularies travel in the export."""
    return _write(path, served.spec, served.metadata["preprocessing"], lambda work: served.path, verify)


def _write(path: str | Path, spec: FeatureSpec, state: dict[str, Any], saved_model: Callable[[Path], Path],
           verify: bool) -> Path:
    """Convert the SavedModel `saved_model(work folder)` gives, check it, and move it to `path` (atomic)."""
    _require_packages()
    import onnx

    if Path(path).is_dir():
        raise ExportError(f"{path} is a folder; an ONNX export is one file, so choose a file name such as model.onnx")
    _refuse_string_hashes(spec, state)
    path = Path(path).absolute()
    blocked = file_in_the_way(path)
    if blocked:
        raise ExportError(blocked)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        saved = saved_model(work)
        converted = work / "model.onnx"
        result = subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--output", str(converted),
             "--opset", str(OPSET), "--extra_opset", "ai.onnx.contrib:1", "--signature_def", "serving_default"],
            capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}, timeout=1800)
        unsupported = re.search(r"Unsupported ops: Counter\((\{.*?\})\)", result.stderr)
        if unsupported or result.returncode != 0 or not converted.exists():
            detail = (f"these TensorFlow ops have no ONNX conversion: {unsupported.group(1)}" if unsupported
                      else result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output")
            raise ExportError(f"ONNX conversion failed; {detail}")
        graph = onnx.load(str(converted))
        _set_locale(graph, onnx)
        _name_inputs(graph, onnx, saved)
        onnx.save(graph, str(converted))
        if verify:
            _verify(converted, saved, spec, state)
        os.replace(converted, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def _refuse_string_hashes(spec: FeatureSpec, state: dict[str, Any]) -> None:
    """Raise an ExportError naming each feature whose ids TensorFlow's string hash picks: a hashed
    feature, or unseen values spread over several OOV buckets. ONNX runtimes hash strings otherwise.
    And each feature with binary ids, which ONNX's string tensors, UTF-8 text, do not hold."""
    tables = state["tables"]
    named = [(f"feature {f.name!r}", f.shared_embedding or f.name) for f in spec.features]
    named += [(f"cross {c.key!r}", c.key) for c in spec.crosses]
    hashed, binary = [], []
    for what, key in named:
        table = tables.get(key, {})  # only vocabulary kinds have tables
        if "hash_buckets" in table:
            hashed.append(f"{what} is hashed (hash_buckets)")
        elif table.get("oov_buckets", 1) > 1:
            hashed.append(f"{what} spreads unseen values over several OOV buckets (oov_buckets > 1)")
        if any(binary_token(token) for token in table.get("vocabulary", ())):
            binary.append(f"{what} has binary ids (bytes that are no UTF-8) in its vocabulary")
    if hashed:
        raise ExportError("; ".join(hashed) + ". TensorFlow picks those ids with a string hash and ONNX runtimes "
                          "hash strings differently, so the ONNX file would serve other ids than the SavedModel. "
                          "Use a vocabulary (min_count / max_tokens) with oov_buckets: 1 for ONNX, or serve the "
                          "SavedModel")
    if binary:
        raise ExportError("; ".join(binary) + ". ONNX's string tensors hold UTF-8 text, so the ONNX file could not "
                          "be fed them; serve the SavedModel, or train on the ids written as text "
                          "(frame[column].map(bytes.hex))")


def _nodes(graph: Any, onnx: Any) -> Any:
    """Every node of an ONNX graph, those of its subgraphs (a loop's body) too."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attribute.g, onnx)


def _name_inputs(model: Any, onnx: Any, saved: Path) -> None:
    """Name the ONNX inputs as the features are named: tf2onnx takes the SavedModel's placeholder names,
    which TensorFlow writes lower-case (feature 'C1' would be fed as 'c1')."""
    from ._keras import tf

    signature = tf.saved_model.load(str(saved)).signatures["serving_default"].structured_input_signature[1]
    names = {spec.name: key for key, spec in signature.items() if spec.name != key}
    for value in model.graph.input:
        value.name = names.get(value.name, value.name)
    for node in _nodes(model.graph, onnx):
        for i, name in enumerate(node.input):
            if name in names:
                node.input[i] = names[name]


def _set_locale(graph: Any, onnx: Any) -> None:
    for node in _nodes(graph.graph, onnx):
        if node.op_type == "StringNormalizer":
            kept = [a for a in node.attribute if a.name != "locale"]
            del node.attribute[:]
            node.attribute.extend([*kept, onnx.helper.make_attribute("locale", LOCALE)])


def onnx_session(path: str | Path) -> Any:
    """An onnxruntime session for an exported ONNX file, with the string ops it needs registered."""
    _require_packages()
    import onnxruntime as ort

    if not Path(path).is_file():
        raise CtrError(f"{path}: no ONNX file here")
    _require_working_regex()
    return ort.InferenceSession(str(path), _session_options(), providers=["CPUExecutionProvider"])


def _session_options() -> Any:
    """onnxruntime session options with onnxruntime-extensions' string ops registered."""
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    options = ort.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    return options


@functools.cache
def _regex_works() -> bool:
    """Whether onnxruntime-extensions' regular expressions work in this process (answered once): they
    return their input when its library was loaded after TensorFlow's (ctr loads it first; see
    `ctr._keras`), and the exports' text and bag tokens would not be the trained ones."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("StringRegexReplace", ["x", "pattern", "rewrite"], ["y"], domain="ai.onnx.contrib")
    graph = helper.make_graph(
        [node], "regex_check", [helper.make_tensor_value_info("x", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [None])],
        [helper.make_tensor("pattern", TensorProto.STRING, [1], [b"-"]),
         helper.make_tensor("rewrite", TensorProto.STRING, [1], [b" "])])
    check = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("ai.onnx.contrib", 1)])
    session = ort.InferenceSession(check.SerializeToString(), _session_options(), providers=["CPUExecutionProvider"])
    return str(session.run(None, {"x": np.array(["a-b"], dtype=object)})[0][0]) == "a b"


def _require_working_regex() -> None:
    """Refuse to serve where onnxruntime-extensions' regular expressions do nothing (`_regex_works`)."""
    if not _regex_works():
        raise CtrError("onnxruntime-extensions' regular expressions do nothing in this process (they returned "
                       "their input): its library was loaded after TensorFlow's, which breaks them, so text and "
                       "bag features would be served as other tokens. Import ctr (or onnxruntime_extensions) "
                       "before tensorflow, or serve the ONNX file from a process that does not load TensorFlow")


def _verify(converted: Path, saved: Path, spec: FeatureSpec, state: dict[str, Any]) -> None:
    session = onnx_session(converted)
    rows = _probe_rows(spec, state, n=64)
    raw = ctr_data.raw_features(rows, spec)
    got = session.run(["probability"], {i.name: raw[i.name] for i in session.get_inputs()})[0]
    expected = load(saved).predict(rows)
    worst = float(np.max(np.abs(got - expected)))
    if not worst <= 1e-4:
        raise ExportError(f"the ONNX graph does not reproduce the SavedModel: max difference {worst:.3g}")
