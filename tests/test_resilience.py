"""Scale and fault tolerance: streamed (out-of-core) training, resume after SIGKILL, two workers,
and exports that a kill never leaves half-written."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import ctr
from ctr._keras import keras

CHILD = Path(__file__).with_name("train_child.py")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, frame):
    folder = tmp_path_factory.mktemp("resilience")
    train, _, test = ctr.data.random_split(frame, (0.8, 0.1, 0.1), seed=0)
    train.head(4800).to_parquet(folder / "train.parquet")
    test.to_parquet(folder / "test.parquet")
    return folder


def _run(mode: str, folder: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), mode, str(folder)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 300) -> None:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]


def _copy_data(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("train.parquet", "test.parquet"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


@pytest.fixture(scope="module")
def straight(workdir, tmp_path_factory):
    """The uninterrupted single-process run both the resume and the two-worker tests compare with,
    started once and in the background (it runs while those tests start their own processes)."""
    folder = _copy_data(workdir, tmp_path_factory.mktemp("straight"))
    proc = _run("resume", folder)
    result: dict = {}

    def wait() -> dict:
        if not result:
            _finish(proc)
            result.update(json.loads((folder / "result-resume.json").read_text()))
            assert result["steps"] == 3 * int(np.ceil(4800 / 128))
        return result

    yield wait
    if proc.poll() is None:
        proc.kill()


def test_training_killed_mid_epoch_resumes_to_the_same_steps_and_quality(workdir, straight, tmp_path):
    killed = _copy_data(workdir, tmp_path / "killed")
    proc = _run("resume", killed)
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until it is well into the second epoch, then kill it hard
        progress = (killed / "progress.txt").read_text().split("\n") if (killed / "progress.txt").exists() else []
        if any(line.startswith("1 ") and int(line.split()[1]) >= 12 for line in progress if line):
            break
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "result-resume.json").exists()
    assert (killed / "backup" / "preprocessing.json").exists()
    steps_before = len((killed / "progress.txt").read_text().split())
    _finish(_run("resume", killed))
    expected = straight()
    resumed = json.loads((killed / "result-resume.json").read_text())
    assert resumed["steps"] == expected["steps"]
    lines = (killed / "progress.txt").read_text().splitlines()
    first_after = lines[steps_before // 2]
    assert first_after.split()[0] == "1" and int(first_after.split()[1]) > 0, "restarted from the beginning"
    assert abs(resumed["auc"] - expected["auc"]) < 0.02, (resumed, expected)
    assert not (killed / "backup").exists()  # removed once training completed


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_to_single_worker_quality(workdir, straight, tmp_path):
    folder = _copy_data(workdir, tmp_path / "cluster")
    cluster = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    workers = [_run("worker", folder, {"TF_CONFIG": json.dumps({"cluster": {"worker": cluster},
                                                                "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    for proc in workers:
        _finish(proc)
    one = straight()
    two = json.loads((folder / "result-worker.json").read_text())
    # Each worker takes half of every global batch, so both runs take the same number of steps.
    assert two["steps"] == one["steps"]
    assert abs(two["auc"] - one["auc"]) < 0.03, (one, two)


def test_streamed_training_from_a_parquet_folder_matches_in_memory(spec, splits, tmp_path):
    train, valid, test = splits
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(train)), 4)):
        train.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    streamed = ctr.FM(spec, embedding_dim=8, learning_rate=0.01, batch_size=256)
    history = streamed.fit(folder, validation_data=valid, epochs=3, verbose=0, in_memory=False)
    cached = ctr.FM(spec, embedding_dim=8, learning_rate=0.01, batch_size=256)
    cached.fit(train, validation_data=valid, epochs=3, verbose=0)
    assert int(streamed.network_.optimizer.iterations.numpy()) == 3 * int(np.ceil(len(train) / 256))
    assert len(history.history["val_auc"]) == 3
    assert abs(streamed.evaluate(test)["auc"] - cached.evaluate(test)["auc"]) < 0.02


def test_backups_come_at_most_every_n_steps_when_a_call_runs_several_and_a_crash_resumes(spec, splits, tmp_path,
                                                                                         monkeypatch, caplog):
    """With no callback of the user's watching every batch, fit runs several steps a call; backups
    still come at most `backup_every` steps apart (an epoch's last call runs fewer steps), and a fit
    that died after one resumes to the uninterrupted run's step count."""
    from ctr.models._resume import _StepBackup

    train = splits[0].head(1000)  # 10 steps an epoch at batch 100
    backups: list[int] = []
    per_call: list[int] = []
    keras_backup = _StepBackup._backup

    def backup(self, epoch, batch=0):
        per_call.append(self._per_call)
        backups.append(epoch * 10 + batch + 1)  # the steps done when it was written
        keras_backup(self, epoch=epoch, batch=batch)
        if len(backups) == 2:
            raise _Killed  # the process dies right after its second backup (mid-epoch, step 8)

    monkeypatch.setattr(_StepBackup, "_backup", backup)
    with pytest.raises(_Killed):
        ctr.FM(spec, embedding_dim=4, batch_size=100).fit(train, epochs=3, backup_dir=tmp_path / "b",
                                                          backup_every=4, verbose=0)
    assert backups == [4, 8] and per_call == [4, 4]
    monkeypatch.setattr(_StepBackup, "_backup", lambda self, epoch, batch=0: (
        backups.append(epoch * 10 + batch + 1), keras_backup(self, epoch=epoch, batch=batch)))
    resumed = ctr.FM(spec, embedding_dim=4, batch_size=100)
    resumed.fit(train, epochs=3, backup_dir=tmp_path / "b", backup_every=4, verbose=0)
    unbuilt = [r.getMessage() for r in caplog.records if "must be built" in r.getMessage()]
    assert not unbuilt, unbuilt  # Keras' "unbuilt model" warning: ours is built, its backup restored
    # Steps 9–10 end epoch 0 (a short call: backed up, since a 4-step call would pass 4 steps); then
    # every epoch's 4, 8 and 10.
    assert backups == [4, 8, 10, 14, 18, 20, 24, 28, 30]
    assert int(resumed.network_.optimizer.iterations.numpy()) == 30
    assert not (tmp_path / "b").exists()


def _killed_after_its_first_backup(model, train, backup, monkeypatch):
    """Fit `model` until the process 'dies' just after writing its first backup, leaving it behind."""
    from ctr.models._resume import _StepBackup

    keras_backup = _StepBackup._backup

    def backup_then_die(self, epoch, batch=0):
        keras_backup(self, epoch=epoch, batch=batch)
        raise _Killed

    with monkeypatch.context() as patched, pytest.raises(_Killed):
        patched.setattr(_StepBackup, "_backup", backup_then_die)
        model.fit(train, epochs=2, backup_dir=backup, verbose=0)


@pytest.mark.parametrize("damage", ["weights", "preprocessing", "model"])
def test_a_damaged_backup_is_named_and_not_a_tensorflow_error(spec, splits, tmp_path, monkeypatch, damage):
    train = splits[0].head(1000)
    _killed_after_its_first_backup(ctr.FM(spec, embedding_dim=4, batch_size=100), train, tmp_path / "b", monkeypatch)
    if damage == "weights":
        (data,) = (tmp_path / "b").rglob("*.data-*")
        data.write_bytes(data.read_bytes()[:50])
        message = "the backup of the interrupted fit cannot be read"
    else:
        (tmp_path / "b" / f"{damage}.json").write_text("{cut sh", encoding="utf-8")
        message = f"the interrupted fit's {damage}.json cannot be read"
    with pytest.raises(ctr.CtrError, match=f"{message} .*; delete the folder to start over") as err:
        ctr.FM(spec, embedding_dim=4, batch_size=100).fit(train, epochs=2, backup_dir=tmp_path / "b", verbose=0)
    assert str(err.value).startswith(str(tmp_path / "b")), str(err.value)


def test_backup_dir_of_another_spec_is_refused(spec, splits, tmp_path):
    train = splits[0]
    model = ctr.LogisticRegression(spec)

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt  # leaves the backup behind, as a crash would

    with pytest.raises(KeyboardInterrupt):
        model.fit(train, backup_dir=tmp_path / "b", callbacks=[Stop()], verbose=0)
    other = ctr.FeatureSpec.from_dict({"name": "other", "label": {"column": "rating", "threshold": 4},
                                       "features": [{"name": "gender", "kind": "categorical"}]})
    with pytest.raises(ctr.errors.DataError, match="different spec"):
        ctr.LogisticRegression(other).fit(train, backup_dir=tmp_path / "b", verbose=0)


@pytest.mark.parametrize("make, then, differs", [
    (lambda spec: ctr.FM(spec, embedding_dim=4), lambda spec: ctr.DeepFM(spec, embedding_dim=4), "of FM, not DeepFM"),
    (lambda spec: ctr.FM(spec, embedding_dim=4), lambda spec: ctr.FM(spec, embedding_dim=8),
     r"of FM with embedding_dim=4 \(8 now\)"),
    (lambda spec: ctr.MatrixFactorization(spec, embedding_dim=4), lambda spec: ctr.MatrixFactorization(
        spec, embedding_dim=4, learning_rate=0.5), r"of MatrixFactorization with learning_rate=.* \(0.5 now\)")])
def test_backup_dir_of_another_model_is_refused(spec, splits, tmp_path, monkeypatch, make, then, differs):
    # Its weights would not fit (Keras: "incompatible tensor with shape (2280, 17)"), or would train on
    # with settings other than the ones asked for.
    train = splits[0].head(1000)
    _killed_after_its_first_backup(make(spec), train, tmp_path / "b", monkeypatch)
    with pytest.raises(ctr.errors.DataError, match=rf"holds the checkpoint of an interrupted fit {differs}, so it "
                                                   "cannot resume this fit; resume with that model"):
        then(spec).fit(train, epochs=2, backup_dir=tmp_path / "b", verbose=0)
    make(spec).fit(train, epochs=2, backup_dir=tmp_path / "b", verbose=0)  # the same model resumes
    assert not (tmp_path / "b").exists()


class _Killed(BaseException):
    """Stands for the process dying: nothing after it runs, no cleanup either."""


@pytest.mark.parametrize("crash_at", [1, 2])
def test_an_export_killed_mid_swap_leaves_a_loadable_model(trained, splits, tmp_path, monkeypatch, crash_at):
    target = tmp_path / "model"
    trained["lr"].export(target)
    rows = splits[2].head(20)
    before = ctr.load(target).predict(rows)
    real_rename, calls = os.rename, []

    def dying_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == crash_at:  # 1: before moving the old export aside; 2: between the two renames
            raise _Killed
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", dying_rename)
    monkeypatch.setattr("shutil.rmtree", lambda *a, **k: None)  # a killed process cleans nothing up
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # so what it leaves is left in tmp_path
    with pytest.raises(_Killed):
        trained["fm"].export(target)
    monkeypatch.undo()
    served = ctr.load(target)  # the previous export, put back if the kill left it aside
    np.testing.assert_allclose(served.predict(rows), before, atol=1e-6)
    trained["fm"].export(target)  # and the next export goes through
    np.testing.assert_allclose(ctr.load(target).predict(rows), trained["fm"].predict(rows), atol=1e-5)
