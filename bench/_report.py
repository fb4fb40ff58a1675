"""Shared by the benchmarks: the machine description, runs in child processes and writing a result
table into the README."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    """What the figures were measured on."""
    import tensorflow as tf

    import ctr

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "ctr": ctr.__version__, "platform": platform.platform()}


def arguments(doc: str, default_out: str) -> argparse.ArgumentParser:
    """The options every MovieLens benchmark takes: data folder, runs, output and --report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    output_options(parser, default_out)
    return parser


def output_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    """--runs, --out and --report, which every benchmark takes."""
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--report", action="store_true", help="only re-print the saved results into the README")


def measured(report: dict, script: str, peer: str | None = None) -> str:
    """The end of a table's caption: when, on what and by which script the figures were measured, and
    where the raw ones are (`script` is bench/NAME.py, whose JSON is bench/results/NAME.json)."""
    info = report["machine"]
    versions = f"TensorFlow {info['tensorflow']}" + (f", DeepCTR {info[peer]}" if peer else "")
    return (f"measured {report['measured_at'][:10]} on {info['cpu']} ({info['cores']} cores), {versions}, by "
            f"`bench/{script}` ({report['wall_minutes']} min); raw figures in "
            f"`bench/results/{Path(script).stem}.json`.")


def frappe_option(parser: argparse.ArgumentParser) -> None:
    """--frappe: the Frappe folder, whose rows a benchmark skips when it is absent."""
    parser.add_argument("--frappe", default=str(ROOT.parent / "shared" / "data" / "frappe"),
                        help="Frappe folder (libFM files); its rows are skipped when it is absent")


def run_options(parser: argparse.ArgumentParser, child: Callable[[dict], dict],
                publish: Callable[[dict, bool], None], script: str) -> argparse.Namespace | None:
    """The parsed options of a benchmark run; or None when this process had only to run one child job
    (`--child JOB`, started by `run_child`: runs `child(JOB)` and prints its `RESULT ` line) or to
    re-publish the saved results (`--report`). Stops if the data is missing."""
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return None
    return None if report_only_or_check_data(args, publish, script) else args


def report_only_or_check_data(args: argparse.Namespace, publish: Callable[[dict, bool], None],
                              script: str) -> bool:
    """Handle --report (re-publish saved results; True means done) or stop if the data is missing."""
    if args.report:
        publish(json.loads(Path(args.out).read_text()), True)
        return True
    if not Path(args.data).exists():
        sys.exit(f"{script}: MovieLens 100K not found at {args.data} (pass --data)")
    return False


def save(report: dict, out: str | Path, default_out: str | Path,
         publish: Callable[[dict, bool], None]) -> None:
    """Write the report's JSON to `out`, then print its table (into the README too when `out` is the
    benchmark's default file, so that a trial run elsewhere leaves the README alone)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    publish(report, out.resolve() == Path(default_out).resolve())


def update_readme(block: str, markdown: str, readme: Path = ROOT / "README.md") -> bool:
    """Replace the text between `<!-- bench:BLOCK -->` and `<!-- /bench:BLOCK -->` in the README."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- bench:{block} -->\n).*?(<!-- /bench:{block} -->)", re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda m: m.group(1) + markdown.rstrip() + "\n" + m.group(2), text),
                      encoding="utf-8")
    print(f"updated the {block} table in README.md")
    return True


def run_child(script: str, job: dict) -> dict:
    """Run `script --child JOB` in a fresh process (its own memory peak, no state carried over) and
    return the dict it printed on its `RESULT ` line; stop the benchmark if the run failed."""
    proc = subprocess.run([sys.executable, script, "--child", json.dumps(job)], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit(f"{Path(script).relative_to(ROOT)}: the run {job} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT "):])


def show_table(block: str, rows: list[str], update: bool) -> None:
    """Print a result table and, with `update`, write it into the README's `block`."""
    text = "\n".join(rows)
    print("\n" + text)
    if update:
        update_readme(block, text)
