"""How much of a DeepFM training step the MLP alone takes, and what that leaves for twice DeepCTR's speed.

Both libraries run the same 256-128 ReLU MLP in float32 (bench/vs_deepctr.py holds it equal), so its
forward and backward pass is a floor under either library's step. This measures that pass alone
(ctr's own `mlp`, on random inputs as wide as DeepFM's flattened field vectors, gradients for the
inputs and every weight; no optimizer) at each dataset's batch size, median of `--runs` timings of
`--calls` passes each (at least 10 calls), two ways: as `fit` runs its steps (as many passes in one
call into TensorFlow as fit puts in one call at that batch size, each pass waiting for the one
before), which is the floor; and one pass a call, as DeepCTR's fit runs its steps, which adds the
cost of the call. Beside it, from the latest bench/results/vs_deepctr.json (named with its date),
the step times implied by its training throughputs: DeepCTR's DeepFM step, the step twice as fast,
what is left of that after the MLP, our DeepFM and FM steps, and the MLP and our FM step one after
the other. Then, trained in this process on the same data and settings, the steps of our FM, our
DeepFM without hidden layers and our DeepFM, which show what DeepFM adds to an FM step.
Datasets: MovieLens 100K, Frappe (skipped when absent) and the synthetic data. Writes
bench/results/mlp_floor.json and the README's block.

    python bench/mlp_floor.py [--data ../shared/data/ml-100k] [--frappe ../shared/data/frappe] [--runs 5]
                              [--calls 300]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = str(ROOT / "bench" / "results" / "mlp_floor.json")
VS_DEEPCTR = ROOT / "bench" / "results" / "vs_deepctr.json"


def main() -> None:
    from bench._report import arguments, frappe_option, machine, report_only_or_check_data, save

    parser = arguments(__doc__, DEFAULT_OUT)
    frappe_option(parser)
    parser.set_defaults(runs=5)
    parser.add_argument("--calls", type=int, default=300, help="calls per timing")
    args = parser.parse_args()
    if report_only_or_check_data(args, publish, "bench/mlp_floor.py"):
        return
    started = time.time()
    results = {}
    datasets = ["movielens", "frappe", "synthetic"]
    if not Path(args.frappe).exists():
        print(f"Frappe not found at {args.frappe}: its row is skipped (pass --frappe)", flush=True)
        datasets.remove("frappe")
    for dataset in datasets:
        batch, width = _shape(dataset, args.frappe if dataset == "frappe" else args.data)
        timings = _mlp_timings(batch, width, args.runs, args.calls)
        results[dataset] = {"batch_size": batch, "mlp_inputs": width, "passes_per_call": timings["passes_per_call"],
                            "mlp_in_fit_ms_median": statistics.median(timings["in_fit"]),
                            "mlp_in_fit_ms_runs": timings["in_fit"],
                            "mlp_ms_median": statistics.median(timings["one_per_call"]),
                            "mlp_ms_runs": timings["one_per_call"]}
        print(f"  {dataset:<10} batch {batch:>5}  {width} inputs: MLP forward and backward "
              f"{results[dataset]['mlp_in_fit_ms_median']:.2f} ms as fit runs it, "
              f"{results[dataset]['mlp_ms_median']:.2f} ms one pass a call (medians of {args.runs})", flush=True)
        results[dataset]["steps_ms"] = _steps(dataset, args.frappe if dataset == "frappe" else args.data)
        steps = results[dataset]["steps_ms"]
        print(f"  {dataset:<10} steps: " + ", ".join(f"{k} {v:.2f} ms" for k, v in steps.items()), flush=True)
    report = {"benchmark": "mlp_floor", "runs": args.runs, "calls": args.calls, "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results,
              "vs_deepctr": _steps_from_vs_deepctr(results)}
    save(report, args.out, DEFAULT_OUT, publish)


def _shape(dataset: str, data: str) -> tuple[int, int]:
    """(batch size, MLP input width) of bench/vs_deepctr.py's DeepFM on `dataset`, read off a DeepFM
    fitted on a few rows (the width is the number of fields times the embedding size)."""
    import ctr
    from bench.vs_deepctr import EMBEDDING_DIM, HIDDEN, MOVIELENS_SPEC, SETTINGS

    if dataset == "movielens":
        spec, table = ctr.FeatureSpec.from_dict(MOVIELENS_SPEC), ctr.datasets.movielens_100k(data).head(2000)
    elif dataset == "frappe":
        spec, table = ctr.datasets.frappe_spec(), ctr.datasets.frappe(data).drop(columns="split").head(2000)
    else:
        spec, table = ctr.datasets.synthetic_spec(), ctr.datasets.synthetic(n_rows=2000, seed=0)
    model = ctr.DeepFM(spec, embedding_dim=EMBEDDING_DIM, hidden_units=HIDDEN, seed=0)
    model.fit(table, epochs=1, verbose=0)
    return SETTINGS[dataset]["batch_size"], int(model.network_.scorer.flat_width)


def _mlp_timings(batch: int, width: int, runs: int, calls: int) -> dict[str, list[float]]:
    """Milliseconds per forward and backward pass of the MLP alone, one figure per run: "in_fit", with
    as many passes in one call as fit runs at this batch size; "one_per_call", one pass a call."""
    from bench.vs_deepctr import HIDDEN
    from ctr._keras import tf
    from ctr.models.base import _MAX_STEPS_PER_CALL, _ROWS_PER_CALL
    from ctr.models.embeddings import mlp

    tower = mlp(HIDDEN, 0.0, seed=0, name="deep")
    x = tf.random.stateless_normal([batch, width], seed=[0, 1])
    tower(x)
    per_call = max(1, min(_MAX_STEPS_PER_CALL, _ROWS_PER_CALL // batch))  # as `several_steps_per_call`

    def gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tower(x, training=True))
        return tape.gradient(loss, [x, *tower.trainable_variables])

    step = tf.function(gradients)

    @tf.function
    def steps(x):
        # Each pass reads a number the one before computed, so that passes run one after another, as
        # training steps do (each reads the weights the step before updated).
        carry = tf.zeros([])
        for _ in tf.range(per_call):
            carry = 1e-12 * tf.reduce_sum(gradients(x + carry)[1])
        return carry

    def timing(run, passes: int) -> float:
        n = max(10, calls // passes)  # calls; at least 10, so that a timing is not one or two calls' luck
        start = time.perf_counter()
        for _ in range(n):
            out = run(x)
        tf.nest.flatten(out)[0].numpy()
        return (time.perf_counter() - start) / (n * passes) * 1e3

    for _ in range(50):
        step(x)
    steps(x)
    timings: dict[str, list[float]] = {"in_fit": [], "one_per_call": [], "passes_per_call": per_call}
    for _ in range(runs):  # interleaved, so that a slow spell of the machine falls on both
        timings["in_fit"].append(timing(steps, per_call))
        timings["one_per_call"].append(timing(step, 1))
    return timings


# What DeepFM adds to an FM step, in one process: each model trained on bench/vs_deepctr.py's data
# and settings, its step timed over the steady epochs (all but the first).
STEP_MODELS = {"FM": ("FM", {}), "DeepFM, no hidden layers": ("DeepFM", {"hidden_units": ()}),
               "DeepFM": ("DeepFM", {})}


def _steps(dataset: str, data: str) -> dict[str, float]:
    """Milliseconds per training step (median of the steady epochs' steps) of each of `STEP_MODELS`."""
    import ctr
    from bench.vs_deepctr import EMBEDDING_DIM, LEARNING_RATE, OUR_MODELS, SETTINGS, _clock_callback
    from bench.vs_deepctr import dataset as split

    settings = SETTINGS[dataset]
    epochs = 3 if dataset == "synthetic" else 5
    spec, (train, _, _) = split({"dataset": dataset, "data": data, "rows": 1_000_000})
    steps = {}
    for name, (cls, extra) in STEP_MODELS.items():
        clock = _clock_callback(time.perf_counter())
        model = getattr(ctr, cls)(spec, embedding_dim=EMBEDDING_DIM, learning_rate=LEARNING_RATE,
                                  batch_size=settings["batch_size"], seed=0, **{**OUR_MODELS[cls], **extra})
        model.fit(train, epochs=epochs, callbacks=[clock], verbose=0)
        steps_per_epoch = -(-len(train) // settings["batch_size"])
        steps[name] = statistics.median(clock.epoch_seconds[1:]) / steps_per_epoch * 1e3
    return steps


def _steps_from_vs_deepctr(results: dict) -> dict:
    """Step times (ms) implied by the latest vs_deepctr run's steady-state throughputs."""
    if not VS_DEEPCTR.exists():
        return {}
    vs = json.loads(VS_DEEPCTR.read_text())
    steps = {"measured_at": vs["measured_at"]}
    for dataset, r in results.items():
        if f"{dataset}/deepctr/DeepFM" not in vs["results"]:
            continue  # that run skipped the dataset (Frappe absent)

        def step_ms(key: str, batch: int = r["batch_size"]) -> float:
            return batch / vs["results"][key]["train_examples_per_s_median"] * 1e3

        deepctr = step_ms(f"{dataset}/deepctr/DeepFM")
        floor = r.get("mlp_in_fit_ms_median", r["mlp_ms_median"])
        fm = step_ms(f"{dataset}/ctr/FM")
        steps[dataset] = {"deepctr_deepfm_ms": deepctr, "twice_as_fast_ms": deepctr / 2,
                          "left_after_mlp_ms": deepctr / 2 - floor, "ctr_deepfm_ms": step_ms(f"{dataset}/ctr/DeepFM"),
                          "ctr_fm_ms": fm, "mlp_plus_ctr_fm_ms": floor + fm}
    return steps


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    res, vs, info = report["results"], report["vs_deepctr"], report["machine"]
    rows = ["| dataset | batch | MLP inputs | MLP forward + backward ms, as fit runs it | one pass a call ms | "
            "DeepCTR DeepFM step ms | 2× its speed: step ms | left after the MLP ms | ctr DeepFM step ms | "
            "ctr FM step ms | MLP + ctr FM step ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    labels = {"movielens": "MovieLens 100K", "frappe": "Frappe (86,582)", "synthetic": "synthetic 1,000,000"}
    for dataset, r in res.items():
        label, s = labels[dataset], vs.get(dataset)
        in_fit = (f"{r['mlp_in_fit_ms_median']:.2f} ({r['passes_per_call']} a call)"
                  if "mlp_in_fit_ms_median" in r else "–")  # not measured before 2026-12-02's second run
        cells = [label, str(r["batch_size"]), str(r["mlp_inputs"]), in_fit, f"{r['mlp_ms_median']:.2f}"]
        cells += [f"{s[k]:.2f}" if s and k in s else "–" for k in (
            "deepctr_deepfm_ms", "twice_as_fast_ms", "left_after_mlp_ms", "ctr_deepfm_ms", "ctr_fm_ms",
            "mlp_plus_ctr_fm_ms")]
        rows.append("| " + " | ".join(cells) + " |")
    stepped = {d: r["steps_ms"] for d, r in res.items() if "steps_ms" in r}
    if stepped:  # not measured before 2026-12-02's third run
        rows += ["", "What DeepFM adds to an FM step (ms a training step, each model trained in this run on "
                 "bench/vs_deepctr.py's data and settings; median of the steady epochs):", "",
                 "| dataset | " + " | ".join(STEP_MODELS) + " | DeepFM's MLP and its updates |",
                 "|---|" + "---:|" * (len(STEP_MODELS) + 1)]
        for dataset, t in stepped.items():
            rows.append(f"| {labels[dataset]} | " + " | ".join(f"{t[k]:.2f}" for k in STEP_MODELS)
                        + f" | {t['DeepFM'] - t['DeepFM, no hidden layers']:.2f} |")
    rows += ["", f"MLP: median of {report['runs']} timings of at least {report['calls']} passes each way, measured "
             f"{report['measured_at'][:10]} on {info['cpu']} ({info['cores']} cores), TensorFlow "
             f"{info['tensorflow']}, by `bench/mlp_floor.py`; raw figures in `bench/results/mlp_floor.json`. "
             "\"As fit runs it\": that many passes in one call into TensorFlow, each waiting for the one "
             "before, as our fit runs its steps; \"one pass a call\" adds the call's own cost, as DeepCTR's "
             "fit (one step a call) pays it. \"Left after the MLP\" subtracts the first. "
             f"Step times: batch size / steady-state training examples/s of the `bench/vs_deepctr.py` run of "
             f"{vs.get('measured_at', '–')[:16].replace('T', ' ')}."]
    show_table("mlp_floor", rows, update)


if __name__ == "__main__":
    main()
