"""A training process for the resilience tests: resumable training, or one worker of a cluster.

    python tests/train_child.py resume WORKDIR      train with backup_dir=WORKDIR/backup (killable)
    python tests/train_child.py worker WORKDIR      train under MultiWorkerMirroredStrategy (TF_CONFIG set)

Data is WORKDIR/train.parquet and WORKDIR/test.parquet; the result (optimizer steps, test AUC) is
written as JSON to WORKDIR/result-<mode>.json (by the chief only, for workers).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _patient_heartbeat() -> None:
    """Gives the cluster's workers two minutes, not TensorFlow's ten seconds, to miss a heartbeat.

    On two shared cores (this test's two workers beside the other test process) a starved worker can
    miss the default and the whole run fails; the strategy keeps a coordination service configured
    before it, with the jobs it would have named itself. The knob is TensorFlow's private one, so
    without it the workers run on the default.
    """
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
    except ImportError:
        return
    import tensorflow as tf

    cluster = tf.train.ClusterSpec(json.loads(os.environ["TF_CONFIG"])["cluster"])
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        heartbeat_timeout_in_ms=120_000, coordinated_jobs=jobs)


def main() -> None:
    mode, workdir = sys.argv[1], Path(sys.argv[2])
    strategy = None
    if mode == "worker":
        import tensorflow as tf  # the strategy must exist before any other TensorFlow work

        _patient_heartbeat()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import ctr
    from ctr._keras import keras

    class Progress(keras.callbacks.Callback):
        """Appends "epoch step" after every step, slowly enough for the parent to kill mid-epoch."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            with open(workdir / "progress.txt", "a") as handle:
                handle.write(f"{self.epoch} {batch}\n")
            time.sleep(0.02)

    spec = ctr.datasets.synthetic_spec()
    model = ctr.FM(spec, embedding_dim=8, learning_rate=0.01, batch_size=128, seed=0)
    kwargs: dict = {"epochs": 3, "verbose": 0}
    if mode == "resume":
        kwargs.update(backup_dir=workdir / "backup", backup_every=5, callbacks=[Progress()])
    if strategy is not None:
        kwargs.update(strategy=strategy)
    model.fit(workdir / "train.parquet", **kwargs)
    # Every worker evaluates (prediction under the strategy is collective); only the chief writes.
    result = {"steps": int(model.network_.optimizer.iterations.numpy()),
              "auc": model.evaluate(workdir / "test.parquet")["auc"]}
    if strategy is None or strategy.cluster_resolver.task_id == 0:
        out = workdir / f"result-{mode}.json"
        out.with_suffix(".tmp").write_text(json.dumps(result))
        os.replace(out.with_suffix(".tmp"), out)


if __name__ == "__main__":
    main()
