"""Shared fixtures: tiny generated data, the embedded spec, and models trained once per session."""

from __future__ import annotations

import gc
import json
import os
import select
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ctr

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ML100K = SHARED_DATA / "ml-100k"
ML1M = SHARED_DATA / "ml-1m"
FRAPPE = SHARED_DATA / "frappe"

# Tracing makes many small Python objects that live as long as their graphs, and Python's default
# thresholds collected ~5900 times in test_models.py alone (7.5 s of its 120 s); these collect ~60
# times (2.7 s), and the file runs 4-8 % faster. Tests that need garbage gone call gc.collect().
gc.set_threshold(50_000, 20, 100)


@pytest.fixture(scope="session")
def spec() -> ctr.FeatureSpec:
    return ctr.datasets.synthetic_spec()


@pytest.fixture(scope="session")
def frame():
    """12k generated ratings: big enough for the planted structure to show, small enough to be quick."""
    return ctr.datasets.synthetic(12_000, n_users=300, n_items=200, seed=1)


@pytest.fixture(scope="session")
def splits(frame):
    return ctr.data.random_split(frame, (0.8, 0.1, 0.1), seed=0)


class _TrainedOnFirstUse(Mapping):
    """Models by name, each fitted when a test first asks for it: a test process whose files want
    only LR does not train the rest."""

    def __init__(self, makers: dict[str, Callable[[], Any]], fit: Callable[[Any], Any]) -> None:
        self._makers, self._fit, self._models = makers, fit, {}

    def __getitem__(self, name: str):
        if name not in self._models:
            self._models[name] = self._makers[name]()
            self._fit(self._models[name])
        return self._models[name]

    def __iter__(self):
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


@pytest.fixture(scope="session")
def trained(spec, splits) -> Mapping:
    """LR, FM, WideDeep, DeepFM, DCN, AutoInt, xDeepFM, FiBiNET, NFM and AFM, each fitted 3 epochs on the tiny split
    (many tests share them)."""
    train, valid, _ = splits
    return _TrainedOnFirstUse({
        "lr": lambda: ctr.LogisticRegression(spec, learning_rate=0.01, batch_size=256),
        "fm": lambda: ctr.FM(spec, embedding_dim=8, learning_rate=0.01, batch_size=256),
        "widedeep": lambda: ctr.WideDeep(spec, embedding_dim=8, hidden_units=(32, 16), learning_rate=0.003,
                                         batch_size=256),
        "deepfm": lambda: ctr.DeepFM(spec, embedding_dim=8, hidden_units=(32, 16), learning_rate=0.003,
                                     batch_size=256),
        "dcn": lambda: ctr.DCN(spec, embedding_dim=8, cross_layers=2, hidden_units=(32, 16), learning_rate=0.003,
                               batch_size=256),
        "autoint": lambda: ctr.AutoInt(spec, embedding_dim=8, attention_layers=2, key_dim=4, hidden_units=(32, 16),
                                       learning_rate=0.003, batch_size=256),
        "xdeepfm": lambda: ctr.xDeepFM(spec, embedding_dim=8, cin_layers=(16, 8), hidden_units=(32, 16),
                                       learning_rate=0.003, batch_size=256),
        "fibinet": lambda: ctr.FiBiNET(spec, embedding_dim=8, hidden_units=(32, 16), learning_rate=0.003,
                                       batch_size=256),
        "nfm": lambda: ctr.NFM(spec, embedding_dim=8, hidden_units=(32, 16), learning_rate=0.003, batch_size=256),
        # AFM's attention starts from even weights and a random projection: it is slow to start at 0.003.
        "afm": lambda: ctr.AFM(spec, embedding_dim=8, learning_rate=0.01, batch_size=256),
    }, lambda model: model.fit(train, validation_data=valid, epochs=3, verbose=0))


# xdist hands test files to its two processes in collection order, one file at a time (with
# `--no-loadscope-reorder`, which the Makefile passes: by default xdist sorts the files by their number
# of tests): the longest go first, by their summed durations (`pytest --durations=0`), so that neither
# process is left alone with a long one at the end.
LONGEST_FIRST = ("test_recommend.py", "test_models.py", "test_cli.py", "test_onnx.py", "test_resilience.py",
                 "test_export.py", "test_warm_start.py", "test_comparison.py", "test_draft.py", "test_weights.py",
                 "test_replicas.py", "test_diagnostics.py", "test_cold_start.py", "test_calibration.py",
                 "test_catalogue.py", "test_weighted_history.py", "test_serving.py", "test_crosses.py",
                 "test_visual.py", "test_data.py", "test_ease.py", "test_weighted_bags.py", "test_features.py",
                 "test_vectors.py", "test_properties.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order


# Files run in the process of another, with `--dist loadfile`: test_export.py's fresh-process test serves
# all nine `trained` models, which test_models.py fits too; apart, two processes fitted them (~15 s).
RUN_WITH = {"tests/test_export.py": "tests/test_models.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class TogetherScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return RUN_WITH.get(scope, scope)

    return TogetherScheduling(config, log)


def needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"real data not present at {path} (../shared/data)")


@pytest.fixture(scope="session")
def _forks_fresh(tmp_path_factory) -> Iterator[subprocess.Popen]:
    """tests/serve_fresh.py --fork-each: a process that never imports ctr, with TensorFlow imported, that
    forks a fresh process for each request (one a test process, started at its first request)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "serve_fresh.py"), "--fork-each"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path_factory.getbasetemp())
    yield process
    process.stdin.close()
    process.wait(timeout=60)


@pytest.fixture
def serve_fresh(_forks_fresh) -> Callable[[dict, Path], dict]:
    """Serves a request in a new Python process that has not imported ctr and has loaded no model before."""

    def serve(request: dict, tmp_path: Path) -> dict:
        (tmp_path / "request.json").write_text(json.dumps(request))
        log = tmp_path / "served.log"
        _forks_fresh.stdin.write(f"{tmp_path / 'request.json'}\t{tmp_path / 'served.json'}\t{log}\n")
        _forks_fresh.stdin.flush()
        if not select.select([_forks_fresh.stdout], [], [], 300)[0]:
            raise TimeoutError(f"the fresh process served nothing in 300 s; its output so far:\n{log.read_text()}")
        code = _forks_fresh.stdout.readline().strip()
        if code != "0":
            said = log.read_text() if log.exists() else "(nothing)"
            raise AssertionError(f"the fresh process {'exited with ' + code if code else 'is gone'}:\n{said[-4000:]}")
        return json.loads((tmp_path / "served.json").read_text())

    return serve
