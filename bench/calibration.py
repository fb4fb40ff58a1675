"""Platt scaling (`model.calibrate(validation rows)`, `ctr fit --calibrate`) on Frappe: the probabilities of
DeepFM trained on all rows, and on non-clicks downsampled with and without weights, before and after.

The runs are bench/downsampling.py's (its split, features, DeepFM settings, sampling and early stopping on
the validation AUC), each in its own process: ctr's model is then calibrated on the full validation rows
and the test rows are scored again. Beside them, DeepCTR's DeepFM given the same rows and weights
(`sample_weight`), which has no calibration step. AUC is unchanged by the scaling (it keeps the order of
the rows); logloss and calibration (mean prediction over the test click rate) are what it is for.
Medians over `--runs` seeds.

    python bench/calibration.py [--frappe ../shared/data/frappe] [--runs 3]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._report import frappe_option, machine, measured, output_options, run_child, save, show_table  # noqa: E402
from bench.vs_deepctr import SETTINGS, _version  # noqa: E402

DEFAULT_OUT = str(ROOT / "bench" / "results" / "calibration.json")
SCRIPT = str(ROOT / "bench" / "downsampling.py")  # whose child trains, scores and calibrates
# share of the non-clicks kept → the runs (bench/downsampling.py's runners); all rows need no weights
RUNS = {1.0: ("ctr", "deepctr"), 0.25: ("ctr-unweighted", "ctr", "deepctr"), 0.1: ("ctr-unweighted", "ctr", "deepctr")}
NAMES = {"ctr": "ctr", "ctr-unweighted": "ctr, no weights", "deepctr": "DeepCTR"}
FIGURES = ("auc", "logloss", "calibration")


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    frappe_option(parser)
    output_options(parser, DEFAULT_OUT)
    args = parser.parse_args()
    if args.report:
        publish(json.loads(Path(args.out).read_text()), True)
        return
    if not Path(args.frappe).exists():
        sys.exit(f"bench/calibration.py: Frappe not found at {args.frappe} (pass --frappe)")
    started = time.time()
    runs: dict[str, list[dict]] = {f"{keep:g}/{runner}": [] for keep, runners in RUNS.items() for runner in runners}
    for seed in range(args.runs):
        for key in runs:
            keep, runner = key.split("/")
            job = {"dataset": "frappe", "data": args.frappe, "runner": runner, "keep": float(keep), "seed": seed,
                   "calibrate": True, **SETTINGS["frappe"]}
            r = run_child(SCRIPT, job)
            runs[key].append(r)
            after = r.get("calibrated")
            then = f"  → logloss {after['logloss']:.4f}  calibration {after['calibration']:.3f}" if after else ""
            print(f"  keep {keep:<5} {NAMES[runner]:<16} seed {seed}: AUC {r['auc']:.4f}  logloss {r['logloss']:.4f}"
                  f"  calibration {r['calibration']:.3f}{then}", flush=True)
    results = {}
    for key, value in runs.items():
        results[key] = {"runs": value, **{f"{f}_median": statistics.median(r[f] for r in value) for f in FIGURES}}
        if "calibrated" in value[0]:
            results[key].update({f"calibrated_{f}_median": statistics.median(r["calibrated"][f] for r in value)
                                 for f in (*FIGURES, "calibrate_s")})
    report = {"benchmark": "calibration", "runs": args.runs, "settings": SETTINGS["frappe"],
              "machine": {**machine(), "deepctr": _version("deepctr")},
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "wall_minutes": round((time.time() - started) / 60, 1), "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def publish(report: dict, update: bool) -> None:
    res = report["results"]
    rows = ["| non-clicks kept | training | AUC | logloss | calibration | logloss, calibrated | calibration, "
            "calibrated | calibrate ms |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for key, r in res.items():
        keep, runner = key.split("/")
        weights = "" if float(keep) == 1 or runner == "ctr-unweighted" else ", weighted"
        after = "– | – | –"  # DeepCTR: no calibration step
        if "calibrated_logloss_median" in r:
            after = (f"{r['calibrated_logloss_median']:.4f} | {r['calibrated_calibration_median']:.3f} | "
                     f"{r['calibrated_calibrate_s_median'] * 1000:.0f}")
        rows.append(f"| {float(keep):g} | {NAMES[runner]}{weights} | {r['auc_median']:.4f} | "
                    f"{r['logloss_median']:.4f} | {r['calibration_median']:.3f} | {after} |")
    rows += ["", f"Frappe DeepFM, bench/downsampling.py's runs (early stopping on the validation AUC); ctr's model "
             f"then calibrated on the full validation rows "
             f"(`model.calibrate(valid)`), the test rows scored again; DeepCTR has no such step. Medians of "
             f"{report['runs']} seeds, " + measured(report, "calibration.py", peer="deepctr")]
    show_table("calibration", rows, update)


if __name__ == "__main__":
    main()
