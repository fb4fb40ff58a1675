"""Retraining on newer data: a DeepFM warm-started from yesterday's model against one trained afresh.

Protocol: MovieLens 100K in time order. Yesterday's window is the earliest 60 % of the ratings and
the test the latest 20 %. Today's window is either the 20 % to 80 % (a sliding window: its first
quarter is gone from what yesterday's trained on, its last quarter new) or the 60 % to 80 % (the
rows new since yesterday, alone: incremental training). In each window the latest 10 % of its rows
are the validation rows. Yesterday's model is a DeepFM trained on its window; today's is trained on
today's window (a) afresh, (b) warm-started from yesterday's (`fit(warm_start_from=...)`: every embedding
row carried over by its value onto the new window's vocabularies, the MLP as it was), (c) the same
for one epoch only (a cheap daily update), beside (d) yesterday's model not retrained and (e)
DeepCTR's DeepFM trained afresh on the new window (it has no warm start across vocabularies).
Settings are bench/vs_deepctr.py's for MovieLens (embedding 16, MLP 256-128, Adam 1e-3, batch 256,
early stopping on the validation AUC with patience 2, at most 20 epochs). Median of `--runs` seeds.

    python bench/warm_start.py [--data ../shared/data/ml-100k] [--runs 5]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._report import arguments, machine, run_child, run_options, save, show_table  # noqa: E402
from bench.vs_deepctr import (  # noqa: E402  (the peer's runner and the shared settings, as that benchmark has them)
    EMBEDDING_DIM,
    HIDDEN,
    LEARNING_RATE,
    MOVIELENS_SPEC,
    SETTINGS,
    _clock_callback,
    _DeepCTRRunner,
    _version,
)

DEFAULT_OUT = str(ROOT / "bench" / "results" / "warm_start.json")
# Each window's share of the ratings in time order; the test is what follows today's windows.
YESTERDAY, TEST = (0.0, 0.6), (0.8, 1.0)
TODAY = {"sliding window": (0.2, 0.8), "new rows only": (0.6, 0.8)}
VALID_SHARE = 0.1
ROWS = {  # runner → what the table calls it
    "previous": "yesterday's model, not retrained",
    "fresh": "ctr, trained afresh",
    "warm": "ctr, warm-started",
    "warm-1": "ctr, warm-started, 1 epoch",
    "deepctr": "DeepCTR, trained afresh",
}
FIGURES = ["auc", "logloss", "epochs", "train_s"]


def main() -> None:
    parser = arguments(__doc__, DEFAULT_OUT)
    parser.set_defaults(runs=5)
    args = run_options(parser, child, publish, "bench/warm_start.py")
    if args is None:
        return
    started = time.time()
    runs: dict[str, list[dict]] = {}
    for seed in range(args.runs):
        for library in ("ctr", "deepctr"):
            for key, result in run_child(__file__, {"data": args.data, "library": library, "seed": seed}).items():
                runs.setdefault(key, []).append(result)
                today, runner = key.split("/")
                print(f"  seed {seed} {today:<15} {ROWS[runner]:<34} AUC {result['auc']:.4f}  logloss "
                      f"{result['logloss']:.4f}  {result['epochs']:>2} epochs  {result['train_s']:.1f} s", flush=True)
    results = {key: {"runs": value, **{f"{f}_median": statistics.median(r[f] for r in value) for f in FIGURES}}
               for key, value in runs.items()}
    report = {"benchmark": "warm_start", "runs": args.runs,
              "protocol": {"yesterday": YESTERDAY, "today": TODAY, "test": TEST,
                           "valid_share": VALID_SHARE, "embedding_dim": EMBEDDING_DIM, "hidden_units": HIDDEN,
                           "learning_rate": LEARNING_RATE, **SETTINGS["movielens"]},
              "carried": {today: runs[f"{today}/warm"][0]["carried"] for today in TODAY},
              "unseen_users": runs[f"{next(iter(TODAY))}/previous"][0]["unseen_users"],
              "machine": {**machine(), "deepctr": _version("deepctr")},
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def windows(path: str) -> tuple:
    """(spec, yesterday's (train, valid), {today's window: its (train, valid)}, test), cut from the ratings in
    time order."""
    import ctr

    spec = ctr.FeatureSpec.from_dict(MOVIELENS_SPEC)
    table = ctr.datasets.movielens_100k(path).sort_values("timestamp", kind="stable").reset_index(drop=True)
    n = len(table)

    def window(share: tuple[float, float]) -> tuple:
        rows = table.iloc[int(share[0] * n):int(share[1] * n)]
        cut = int(len(rows) * (1 - VALID_SHARE))
        return rows.iloc[:cut], rows.iloc[cut:]

    return (spec, window(YESTERDAY), {name: window(share) for name, share in TODAY.items()},
            table.iloc[int(TEST[0] * n):int(TEST[1] * n)])


def child(job: dict) -> dict:
    """One seed of one library: every row the library has, as "today's window/runner" → figures."""
    import ctr
    from ctr._keras import keras
    from ctr.metrics import auc, logloss

    spec, yesterday, todays, test = windows(job["data"])
    y_test = ctr.data.labels(test, spec)
    settings = SETTINGS["movielens"]

    def figures(p, clock, **extra) -> dict:
        return {"auc": auc(y_test, p), "logloss": logloss(y_test, p), "epochs": len(clock.epoch_seconds),
                "train_s": sum(clock.epoch_seconds), **extra}

    def stopping(epochs: int) -> list:
        if epochs == 1:
            return []
        return [keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=settings["patience"],
                                              restore_best_weights=True)]

    if job["library"] == "deepctr":
        out = {}
        for name, today in todays.items():
            clock = _clock_callback(time.perf_counter())
            runner = _DeepCTRRunner(spec, {"model": "DeepFM", "seed": job["seed"], "max_epochs": settings["max_epochs"],
                                           "batch_size": settings["batch_size"]})
            runner.train(*today, [clock, *stopping(settings["max_epochs"])])
            out[f"{name}/deepctr"] = figures(runner.predict(test), clock)
        return out

    def deepfm():
        return ctr.DeepFM(spec, embedding_dim=EMBEDDING_DIM, hidden_units=HIDDEN, learning_rate=LEARNING_RATE,
                          batch_size=settings["batch_size"], seed=job["seed"])

    def train(window: tuple, epochs: int, **fit) -> tuple:
        clock = _clock_callback(time.perf_counter())
        model = deepfm()
        model.fit(window[0], validation_data=window[1], epochs=epochs, callbacks=[clock, *stopping(epochs)],
                  verbose=0, **fit)
        return model, clock

    previous, clock = train(yesterday, settings["max_epochs"])
    # The share of the test rows whose user the window's training rows do not hold.
    unseen = {name: float((~test["user_id"].isin(rows[0]["user_id"])).mean())
              for name, rows in {"yesterday": yesterday, **todays}.items()}
    out = {}
    for name, today in todays.items():
        out[f"{name}/previous"] = figures(previous.predict(test), clock, unseen_users=unseen)
        model, clock_today = train(today, settings["max_epochs"])
        out[f"{name}/fresh"] = figures(model.predict(test), clock_today)
        for runner, epochs in (("warm", settings["max_epochs"]), ("warm-1", 1)):
            model, clock_today = train(today, epochs, warm_start_from=previous)
            tables = model.warm_start_["tables"]
            out[f"{name}/{runner}"] = figures(model.predict(test), clock_today,
                                              carried={t: tables[t] for t in ("user_id", "item_id", "zip_prefix")})
    return out


def publish(report: dict, update: bool) -> None:
    results, m = report["results"], report["machine"]
    rows = ["| today's window | model | test AUC | test logloss | epochs | training s | training s vs afresh |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for today, (start, end) in report["protocol"]["today"].items():
        fresh = results[f"{today}/fresh"]
        for runner, label in ROWS.items():
            r = results[f"{today}/{runner}"]
            ratio = f"{r['train_s_median'] / fresh['train_s_median']:.2f}×" if runner != "previous" else "(yesterday's)"
            rows.append(f"| {today} ({start:.0%}–{end:.0%}) | {label} | {r['auc_median']:.4f} | "
                        f"{r['logloss_median']:.4f} | {r['epochs_median']:g} | {r['train_s_median']:.1f} | {ratio} |")
    carried = "; ".join(f"{today}: " + ", ".join(f"{name} {kept:,} of {total:,}"
                                                 for name, (kept, total) in tables.items())
                        for today, tables in report["carried"].items())
    unseen = ", ".join(f"{name} {share:.0%}" for name, share in report["unseen_users"].items())
    rows += ["", f"MovieLens 100K in time order: yesterday's window the earliest 60 % of the ratings, the test the "
                 f"latest 20 %, today's window as in the first column; DeepFM (embedding 16, MLP 256-128, Adam 1e-3, "
                 f"batch 256, "
                 f"early stopping on validation AUC, patience 2); medians of {report['runs']} seeds, measured "
                 f"{report['measured_at'][:10]} on {m['cpu']} ({m['cores']} cores), TensorFlow {m['tensorflow']}, "
                 f"DeepCTR {m['deepctr']}, by `bench/warm_start.py` ({report['wall_minutes']} min); raw figures in "
                 f"`bench/results/warm_start.json`. Training seconds: every epoch's training part, the epochs "
                 f"after the best one included. Embedding rows carried over (seed 0; rows of today's tables, "
                 f"missing and unseen rows included): {carried}. Test rows whose user the window's training "
                 f"rows do not hold: {unseen}."]
    show_table("warm_start", rows, update)


if __name__ == "__main__":
    main()
