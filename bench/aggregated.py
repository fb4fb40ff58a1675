"""Aggregated rows (`label: {column: clicks, out_of: impressions}`) against the same impressions one a row.

An ad server's log is generated here (the package's own data; no real log of this kind is public in
our data folder): `--impressions` impressions of 100 ads on 10 sites, shown to 8 user segments on 3
devices in 4 parts of the day, each clicked with a planted probability (a logistic model with
pairwise interactions). The training impressions are kept two ways: one row each (label 0/1), and
aggregated into one row per distinct (segment, ad, site, device, daypart) with its clicks and
impressions. DeepFM trains on each with the same settings, until its validation AUC (on held-out
impressions, one a row) has not risen for `patience` epochs, and keeps its best epoch's weights; both
are scored on the same test impressions, one a row. An epoch of aggregated rows is fewer, larger steps
(a batch of rows stands for about ten times as many impressions), so it may need more epochs: the
training time counts them all.

    python bench/aggregated.py [--impressions 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._report import machine, measured, output_options, save, show_table  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "aggregated.json")
SETTINGS = {"embedding_dim": 8, "hidden_units": [64, 32], "batch_size": 2048, "max_epochs": 200, "patience": 3}
COLUMNS = ("segment", "ad_id", "site", "device", "daypart")
SIZES = {"segment": 8, "ad_id": 100, "site": 10, "device": 3, "daypart": 4}  # 96,000 distinct rows at most


def ad_log(impressions: int, seed: int = 0):  # -> pd.DataFrame
    """Impressions with a planted click probability: a bias, each value's own effect and the
    segment × ad and site × device interactions."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    values = {c: rng.integers(0, n, impressions) for c, n in SIZES.items()}
    effect = {c: rng.normal(0, 0.4, n) for c, n in SIZES.items()}
    taste = rng.normal(0, 0.6, (SIZES["segment"], SIZES["ad_id"]))
    placement = rng.normal(0, 0.4, (SIZES["site"], SIZES["device"]))
    logit = (-2.6 + sum(effect[c][values[c]] for c in SIZES) + taste[values["segment"], values["ad_id"]]
             + placement[values["site"], values["device"]])
    clicked = (rng.random(impressions) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    frame = pd.DataFrame({c: values[c] for c in SIZES})
    frame["device"] = np.array(["ios", "android", "web"])[frame["device"]]
    frame["daypart"] = np.array(["night", "morning", "afternoon", "evening"])[frame["daypart"]]
    return frame.assign(clicks=clicked, impressions=1)


def specs():  # -> tuple[ctr.FeatureSpec, ctr.FeatureSpec]
    import ctr

    features = [ctr.Categorical("segment", dtype="int", role="user"),
                ctr.Categorical("ad_id", dtype="int", role="item"), ctr.Categorical("site", dtype="int"),
                ctr.Categorical("device"), ctr.Categorical("daypart")]
    return (ctr.FeatureSpec(features, label="clicks", name="impressions"),
            ctr.FeatureSpec(features, label=ctr.Label("clicks", out_of="impressions"), name="aggregated"))


def run(train, valid, test, spec, seed: int) -> dict:
    import ctr
    from ctr._keras import keras

    model = ctr.DeepFM(spec, embedding_dim=SETTINGS["embedding_dim"], hidden_units=SETTINGS["hidden_units"],
                       batch_size=SETTINGS["batch_size"], seed=seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=SETTINGS["patience"],
                                         restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(train, validation_data=valid, epochs=SETTINGS["max_epochs"], callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - started
    figures = model.evaluate(test)
    aucs = history.history["val_auc"]
    return {"rows": len(train), "train_s": seconds, "epochs": len(aucs), "best_epoch": aucs.index(max(aucs)) + 1,
            **{k: figures[k] for k in ("auc", "logloss", "calibration")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=1_000_000)
    output_options(parser, DEFAULT_OUT)
    args = parser.parse_args()
    if args.report:
        publish(json.loads(Path(args.out).read_text()), True)
        return
    started = time.time()
    tenth = args.impressions // 10
    log = ad_log(args.impressions + 2 * tenth)
    train, valid, test = (log.iloc[:args.impressions], log.iloc[args.impressions:args.impressions + tenth],
                          log.iloc[args.impressions + tenth:])
    aggregated = train.groupby(list(COLUMNS), as_index=False).agg(clicks=("clicks", "sum"),
                                                                 impressions=("impressions", "sum"))
    one_a_row, together = specs()
    runs: dict[str, list[dict]] = {"impressions": [], "aggregated": []}
    for seed in range(args.runs):
        for name, data, spec in (("impressions", train, one_a_row), ("aggregated", aggregated, together)):
            r = run(data, valid, test, spec, seed)
            runs[name].append(r)
            print(f"  {name:<12} seed {seed}: {r['rows']:>9,} rows  {r['epochs']:>2} epochs (best {r['best_epoch']})"
                  f"  {r['train_s']:6.1f} s  AUC {r['auc']:.4f}  "
                  f"logloss {r['logloss']:.4f}  calibration {r['calibration']:.3f}", flush=True)
    results = {name: {"runs": value, "rows": value[0]["rows"],
                      **{f"{f}_median": statistics.median(r[f] for r in value)
                         for f in ("train_s", "epochs", "best_epoch", "auc", "logloss", "calibration")}}
               for name, value in runs.items()}
    report = {"benchmark": "aggregated", "runs": args.runs, "impressions": args.impressions,
              "test_impressions": len(test), "click_rate": float(train.clicks.mean()), "settings": SETTINGS,
              "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    res = report["results"]
    base = res["impressions"]
    rows = ["| training rows | rows | epochs (best) | training s | vs one a row | test AUC | test logloss | "
            "calibration |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, said in (("impressions", "one an impression"), ("aggregated", "aggregated (`out_of`)")):
        r = res[name]
        rows.append(f"| {said} | {r['rows']:,} | {r['epochs_median']:g} ({r['best_epoch_median']:g}) | "
                    f"{r['train_s_median']:.1f} | "
                    f"{r['train_s_median'] / base['train_s_median']:.2f}× | {r['auc_median']:.4f} | "
                    f"{r['logloss_median']:.4f} | {r['calibration_median']:.3f} |")
    s = report["settings"]
    rows += ["", f"DeepFM (embedding {s['embedding_dim']}, MLP {s['hidden_units']}, batch {s['batch_size']}) on "
             f"{report['impressions']:,} generated ad impressions ({report['click_rate']:.1%} clicked), stopped "
             f"when the validation AUC had not risen for {s['patience']} epochs (at most {s['max_epochs']}), its "
             f"best epoch kept; validated and tested on {report['test_impressions']:,} more each, one a row; "
             "training seconds count every epoch, validation included. "
             f"Medians of {report['runs']} seeds, " + measured(report, "aggregated.py")]
    show_table("aggregated", rows, update)


if __name__ == "__main__":
    main()
