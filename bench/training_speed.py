"""What each training-speed measure is worth: ctr's DeepFM and FM with one turned off at a time.

Same data, features, sizes and batch sizes as bench/vs_deepctr.py (MovieLens 100K at batch 256,
the synthetic data at 1 M rows and batch 2048). Variants:
- as shipped;
- one step per call into TensorFlow, as when a callback of the user's watches every batch (here a
  do-nothing one): Keras' Python loop and the call are paid at every step;
- Keras' own Adam: its sparse path decays every table row's moments and rewrites every weight at
  every step, about ten ops per dense variable, and the weight average updated at every step;
- both;
- traced as before: the training step traced twice (its variables made inside its first trace) and
  through autograph, and the encoder through autograph, as the package did before it traced once.
- batches as before: each cached feature gathered into the batch on its own (not one gather of
  whole packed rows per dtype), and FM forming its field rows and cutting the first-order weights
  off them (not reading whole rows, so also without FM's sums straight from the distinct rows);
  DeepFM has only the former.
- gradients as before: training gathers the table's rows as serving does (not the distinct rows
  times one sparse matrix), FM sums those rows and is differentiated through them (not from the
  distinct rows), and the optimizer sums duplicate gradient rows with Keras' `UnsortedSegmentSum`
  (not a sparse product).
- entries in every step: the table rows each training row reads, and their weights, worked out from
  its cached features in every step (not cached once in their place). The two variants above
  also read the features, as the package did before.
Figures: steady-state training examples/s (the training part of every epoch after the first) and
the seconds from calling `fit` to the end of the first epoch's training (preprocessing, encoding and
tracing included), median of `--runs` seeds, each run in its own process; the variants run
interleaved (seed by seed), so that a slow spell of the machine falls on all of them. Prints the
tables, writes bench/results/training_speed.json and the README's block.

    python bench/training_speed.py [--data ../shared/data/ml-100k] [--runs 3] [--rows 1000000]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "training_speed.json")
VARIANTS = {
    "as shipped": {},
    "one step per call": {"one_step_per_call": True},
    "Keras' Adam": {"keras_adam": True},
    "one step per call, Keras' Adam": {"one_step_per_call": True, "keras_adam": True},
    "traced as before": {"old_tracing": True},
    "batches as before": {"old_batches": True},
    "gradients as before": {"old_gradients": True},
    "entries in every step": {"no_entry_cache": True},
}
EPOCHS = {"movielens": 4, "synthetic": 3}


def main() -> None:
    from bench._report import arguments, machine, run_child, run_options, save

    parser = arguments(__doc__, DEFAULT_OUT)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of synthetic data")
    args = run_options(parser, child, publish, "bench/training_speed.py")
    if args is None:
        return
    started = time.time()
    runs: dict[str, list[dict]] = {}
    for dataset in ("movielens", "synthetic"):
        for model in ("DeepFM", "FM"):
            for seed in range(args.runs):
                for variant, switches in VARIANTS.items():
                    job = {"dataset": dataset, "model": model, "seed": seed, "data": args.data, "rows": args.rows,
                           **switches}
                    result = run_child(__file__, job)
                    runs.setdefault(f"{dataset}/{model}/{variant}", []).append(result)
                    print(f"  {dataset:<10}{model:<7}{variant:<32} seed {seed}: "
                          f"{result['train_examples_per_s']:>9,.0f} ex/s  first epoch {result['first_epoch_s']:.1f} s  "
                          f"AUC {result['auc']:.4f}", flush=True)
    results = {key: {"train_examples_per_s_median": statistics.median(r["train_examples_per_s"] for r in value),
                     "first_epoch_s_median": statistics.median(r["first_epoch_s"] for r in value),
                     "auc_median": statistics.median(r["auc"] for r in value), "runs": value}
               for key, value in runs.items()}
    report = {"benchmark": "training_speed", "runs": args.runs, "synthetic_rows": args.rows,
              "epochs": EPOCHS, "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def child(job: dict) -> dict:
    import ctr
    from bench.vs_deepctr import EMBEDDING_DIM, HIDDEN, LEARNING_RATE, MOVIELENS_SPEC, SETTINGS, _clock_callback
    from ctr._keras import keras
    from ctr.metrics import auc

    if job["dataset"] == "movielens":
        spec, table = ctr.FeatureSpec.from_dict(MOVIELENS_SPEC), ctr.datasets.movielens_100k(job["data"])
    else:
        spec, table = ctr.datasets.synthetic_spec(), ctr.datasets.synthetic(n_rows=job["rows"], seed=0)
    train, valid, test = ctr.data.random_split(table, (0.8, 0.1, 0.1), seed=0)
    cls = ctr.DeepFM if job["model"] == "DeepFM" else ctr.FM
    extra = {"hidden_units": HIDDEN} if job["model"] == "DeepFM" else {}
    model = cls(spec, embedding_dim=EMBEDDING_DIM, learning_rate=LEARNING_RATE,
                batch_size=SETTINGS[job["dataset"]]["batch_size"], seed=job["seed"], **extra)
    if job.get("no_entry_cache") or job.get("old_batches") or job.get("old_gradients"):
        import ctr.models.base as base

        base.Scorer.training_cache = lambda self, encoded: None  # the features are cached, as they were
    if job.get("keras_adam"):
        class KerasAdam(keras.optimizers.Adam):
            """Keras' Adam with its own weight average, updated at every step (so the model's averaging
            callback has nothing to bring up to date)."""

            def sample_average(self, var_list) -> None:
                pass

        model._optimizer = lambda: KerasAdam(LEARNING_RATE, use_ema=True, ema_momentum=model.weight_averaging)
    if job.get("old_tracing"):
        import ctr.models.base as base
        from ctr._keras import tf

        base.ReplicaModel.build_weights = lambda self, features: None  # variables made in the first trace
        base._RankingNetwork.autograph = True
        base.traced_encoder = lambda encoder, signature: tf.function(encoder.__call__, input_signature=[signature])
    if job.get("old_batches"):
        import ctr.models.base as base
        import ctr.models.fm as fm
        from ctr._keras import tf

        class PerFeature(base._Arrays):
            def set(self, split, encoded, labels) -> None:
                self.splits[split] = ({k: tf.constant(v) for k, v in encoded.items()}, tf.constant(labels, tf.float32))

            def gather(self, split, inputs):
                if not isinstance(inputs, tf.Tensor):
                    return inputs
                features, labels = self.splits[split]
                return {k: tf.gather(v, inputs) for k, v in features.items()}, tf.gather(labels, inputs)

        def split_rows(self, encoded, training=False):
            vectors, first_order = self.embeddings(encoded, training=training)
            return self.bias + first_order + fm.pairwise_interactions(vectors)

        base._Arrays = PerFeature
        fm.FMScorer.call = split_rows
    if job.get("old_gradients"):
        import ctr.models._adam as adam
        import ctr.models.embeddings as embeddings

        gathered = embeddings.FieldEmbeddings._stack
        embeddings.FieldEmbeddings._stack = lambda self, fields, encoded, sparse=False: gathered(self, fields, encoded)
        embeddings.FieldEmbeddings.moments = embeddings.FieldEmbeddings._moments_from_rows
        adam.LazyAdam._deduplicate_sparse_grad = keras.optimizers.Adam._deduplicate_sparse_grad
    clock = _clock_callback(time.perf_counter())
    callbacks = [clock]
    if job.get("one_step_per_call"):
        callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None))
    model.fit(train, validation_data=valid, epochs=EPOCHS[job["dataset"]], callbacks=callbacks, verbose=0)
    return {"train_examples_per_s": len(train) / statistics.median(clock.epoch_seconds[1:]),
            "first_epoch_s": clock.first_epoch_end,
            "auc": auc(ctr.data.labels(test, spec), model.predict(test))}


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    res, info = report["results"], report["machine"]

    def table(figure: str, cell: str) -> list[str]:
        rows = ["| dataset | model | " + " | ".join(VARIANTS) + " |", "|---|---|" + "---:|" * len(VARIANTS)]
        for dataset, label in (("movielens", "MovieLens 100K (batch 256)"),
                               ("synthetic", f"synthetic {report['synthetic_rows']:,} (batch 2048)")):
            for model in ("DeepFM", "FM"):
                shipped = res[f"{dataset}/{model}/as shipped"][figure]
                cells = []
                for variant in VARIANTS:
                    value = res[f"{dataset}/{model}/{variant}"][figure]
                    cells.append(cell.format(value) + ("" if variant == "as shipped" else f" ({value / shipped:.2f}×)"))
                rows.append(f"| {label} | {model} | " + " | ".join(cells) + " |")
        return rows

    rows = ["Training examples/s, steady state (epochs 2–"
            f"{report['epochs']['movielens']} on MovieLens, 2–{report['epochs']['synthetic']} on synthetic); in "
            "brackets, the share of the shipped speed:", ""]
    rows += table("train_examples_per_s_median", "{:,.0f}")
    rows += ["", "Seconds from calling `fit` to the end of the first epoch's training (fitting the preprocessing, "
             "encoding and tracing included); in brackets, the ratio to the shipped time:", ""]
    rows += table("first_epoch_s_median", "{:.1f}")
    rows.append(f"\nMedian of {report['runs']} runs, each in its own process. Measured {report['measured_at'][:10]} on "
                f"{info['cpu']} ({info['cores']} cores), TensorFlow {info['tensorflow']}, by "
                f"`bench/training_speed.py` ({report['wall_minutes']} min); raw figures in "
                "`bench/results/training_speed.json`.")
    show_table("training_speed", rows, update)


if __name__ == "__main__":
    main()
