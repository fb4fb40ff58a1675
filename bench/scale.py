"""Out-of-core training: one epoch of DeepFM streamed from Parquet folders of growing size.

For each size (default 2 M and 20 M rows) the script writes a folder of Parquet files of generated
data (1 M rows per file, not committed: under --dir, removed afterwards unless --keep), then trains
one epoch of DeepFM from the folder in a fresh process with `in_memory=False`, so the data is never
loaded whole: the preprocessing is fitted in one streaming pass and the batches are encoded chunk by
chunk. Reported per size: seconds for the preprocessing pass and for the epoch, rows/s, and the
process's peak resident memory, which should stay flat while the time grows linearly.

The rows are drawn (with replacement) from one generated 1 M-row table, so every file shares one
catalogue of users and items; this measures the pipeline, not the model's quality.

    python bench/scale.py [--rows 2000000,20000000] [--dir /tmp/ctr-scale] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "bench" / "results" / "scale.json"
FILE_ROWS = 1_000_000
BATCH_SIZE = 4096


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000000,20000000")
    parser.add_argument("--dir", default="/tmp/ctr-scale")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--report", action="store_true", help="only re-print the saved results into the README")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(train_one_epoch(Path(args.child))), flush=True)
        return
    if args.report:
        publish(json.loads(Path(args.out).read_text()), update=True)
        return

    from bench._report import machine, save

    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        folder = Path(args.dir) / f"rows-{rows}"
        started = time.perf_counter()
        write_folder(folder, rows)
        print(f"{rows:,} rows: wrote {folder} in {time.perf_counter() - started:.0f} s", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr[-4000:])
            sys.exit(f"bench/scale.py: training on {rows:,} rows failed (exit {proc.returncode})")
        result = {"rows": rows, **json.loads(lines[-1][len("RESULT "):])}
        results.append(result)
        print(f"  preprocessing {result['preprocessing_s']:.0f} s, epoch {result['epoch_s']:.0f} s, "
              f"{result['rows_per_s']:,.0f} rows/s, peak RSS {result['peak_rss_mb']:,.0f} MB", flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if not args.keep:
        with contextlib.suppress(OSError):  # the --dir it made, when nothing else is in it
            Path(args.dir).rmdir()
    report = {"benchmark": "scale", "model": "DeepFM (embedding 16, MLP 256-128)", "batch_size": BATCH_SIZE,
              "file_rows": FILE_ROWS, "machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "results": results}
    save(report, args.out, DEFAULT_OUT, publish)


def write_folder(folder: Path, rows: int) -> None:
    """`rows` generated rows as Parquet files of FILE_ROWS rows, drawn from one generated table."""
    import numpy as np

    import ctr

    if folder.exists() and sum(1 for _ in folder.glob("*.parquet")) == -(-rows // FILE_ROWS):
        return  # kept from an earlier run
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    base = ctr.datasets.synthetic(FILE_ROWS, seed=0)
    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True).to_parquet(folder / f"part-{i:04d}.parquet")


def train_one_epoch(folder: Path) -> dict:
    """In a fresh process: stream one epoch of DeepFM from `folder`; time it and read the peak RSS."""
    import ctr
    from ctr._keras import keras

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.started

    spec = ctr.datasets.synthetic_spec()
    model = ctr.DeepFM(spec, embedding_dim=16, hidden_units=(256, 128), batch_size=BATCH_SIZE, seed=0)
    started = time.perf_counter()
    model.preprocessor_.fit(model._raw_chunks(folder), seed=0)
    preprocessing = time.perf_counter() - started
    clock = Clock()
    model.fit(folder, epochs=1, in_memory=False, callbacks=[clock], verbose=0)
    rows = model.preprocessor_.state["rows"]
    return {"preprocessing_s": preprocessing, "epoch_s": clock.seconds, "rows_per_s": rows / clock.seconds,
            "total_s": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loss": model.history_["loss"][-1]}


def publish(report: dict, update: bool) -> None:
    from bench._report import show_table

    info = report["machine"]
    rows = ["| rows | preprocessing pass s | epoch s | rows/s | peak RSS MB |", "|---:|---:|---:|---:|---:|"]
    rows += [f"| {r['rows']:,} | {r['preprocessing_s']:.0f} | {r['epoch_s']:.0f} | {r['rows_per_s']:,.0f} | "
             f"{r['peak_rss_mb']:,.0f} |" for r in report["results"]]
    rows.append(f"\nOne epoch of {report['model']}, batch {report['batch_size']}, streamed from Parquet files of "
                f"{report['file_rows']:,} rows; measured {report['measured_at'][:10]} on {info['cpu']} "
                f"({info['cores']} cores) by `bench/scale.py`; raw figures in `bench/results/scale.json`.")
    show_table("scale", rows, update)


if __name__ == "__main__":
    main()
