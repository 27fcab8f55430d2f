"""Whole-command calibration benchmark: ``zapcat calibrate FILE`` against peer scripts.

Each run is a fresh process, as a user meets it: ``zapcat calibrate FILE --model M`` (read,
fit with Louis SEs, write the bank), against a script that reads the same file with pandas
and fits it with PyPI ``mirt`` (``fit_mirt``, default options, SEs) or ``girth`` (no SEs).
Tools are interleaved within each repeat, in three environments:

* ``1-thread``: ``RAYON_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1`` for all;
* ``default``: no thread variables, as a user runs it;
* ``default+load``: the same beside a CPU-bound process (a busy loop) started by this
  script, the case where threaded code waits for the busy core.

Wall time, CPU time (user + system of the child, from ``wait4``) and peak resident memory
of every run; medians over ``--repeats``. Cases are those of ``bench/calibration.py``
(written as wide CSV, and as Parquet), plus CAT logs from ``bench/catlog.py`` (long
Parquet; mirt and girth need the dense persons x items array, 16 GB at 40 million
responses, and are run only where it fits in ``--dense-limit`` cells)::

    .venv/bin/python bench/command.py --json /tmp/command.json --write bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ZAPCAT = Path(sys.executable).with_name("zapcat")
THREADS = {"RAYON_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
ENVIRONMENTS = ("1-thread", "default", "default+load")
CAT_LOGS = {"catlog-4m": (100_000, 1_000, 40), "catlog-40m": (1_000_000, 2_000, 40)}


def _bench_calibration():  # bench/calibration.py, whose name hides the package
    spec = importlib.util.spec_from_file_location("bench_calibration", HERE / "calibration.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ peer scripts
def peer(tool: str, path: str, model: str, k: int, layout: str) -> None:
    """The peer script: read ``path`` with pandas, fit with ``tool`` (run in a child)."""
    import pandas as pd

    frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    if layout == "long":
        x = frame.pivot(index="person", columns="item", values="response").to_numpy(float)
    else:
        x = frame.drop(columns=["person"]).to_numpy(float)
    x = np.where(np.isnan(x), -1, x).astype(np.int8)
    bench = _bench_calibration()
    bench.FITTERS[tool](x, model, k)


# ------------------------------------------------------------------------ cases
def write_cases(folder: Path, names: list[str]) -> dict[str, dict]:
    """Write each case as wide CSV and Parquet (and the CAT logs as long Parquet)."""
    import pandas as pd

    bench = _bench_calibration()
    out = {}
    for name in names:
        if name in CAT_LOGS:
            sys.path.insert(0, str(HERE))
            from catlog import write_catlog

            n, m, answered = CAT_LOGS[name]
            path = folder / f"{name}.parquet"
            if not path.exists():
                write_catlog(path, n, m, answered)
            out[name] = {"model": "2pl", "k": 2, "layout": "long", "files": [str(path)],
                         "cells": n * m, "responses": n * answered}  # fmt: skip
            continue
        model, n, m, k, _ = bench.case_spec(name)
        x = bench.make_case(name)["x"]
        frame = pd.DataFrame(np.where(x < 0, np.nan, x), columns=[f"i{j}" for j in range(m)])
        frame = frame.astype("Int64")
        frame.insert(0, "person", [f"p{i}" for i in range(n)])
        csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
        frame.to_csv(csv, index=False)
        frame.to_parquet(parquet)
        out[name] = {"model": model, "k": k, "layout": "wide", "files": [str(csv), str(parquet)],
                     "cells": n * m, "responses": int((x >= 0).sum())}  # fmt: skip
    return out


def _command(tool: str, path: str, case: dict, folder: Path) -> list[str]:
    model = {"rasch": "rasch"}.get(case["model"], case["model"])
    if tool == "zapcat":
        cmd = [str(ZAPCAT), "calibrate", path, "--model", model, "--out", str(folder / "b.json")]
        return cmd + (["--layout", "long"] if case["layout"] == "long" else [])
    args = [tool, path, case["model"], str(case["k"]), case["layout"]]
    return [sys.executable, str(Path(__file__).resolve()), "--peer", *args]


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> dict:
    # the peak is measured by /usr/bin/time: a child's ru_maxrss starts at the RSS of the
    # process that forked it (this script, holding the data it wrote)
    peak_file = tempfile.NamedTemporaryFile(suffix=".rss", delete=False).name
    cmd = ["/usr/bin/time", "-f", "%M", "-o", peak_file, *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return {"error": f"timeout after {timeout:.0f} s"}
        time.sleep(0.02)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1][:120]}
    peak_kb = float(Path(peak_file).read_text().split()[-1])
    Path(peak_file).unlink()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": peak_kb / 1024}


def run(cases: dict, tools: list[str], envs: list[str], repeats: int, timeout: float,
        dense_limit: float) -> list[dict]:  # fmt: skip
    """Every (case, file, environment, tool), tools interleaved within each repeat."""
    base = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    folder = Path(tempfile.mkdtemp(prefix="zapcat-bench-"))
    rows = []
    for name, case in cases.items():
        for path in case["files"]:
            for env_name in envs:
                env = dict(base, **THREADS) if env_name == "1-thread" else dict(base)
                load = None
                if env_name.endswith("+load"):
                    load = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                try:
                    runs: dict[str, list[dict]] = {t: [] for t in tools}
                    for _ in range(repeats):
                        for tool in tools:
                            if tool != "zapcat" and case["cells"] > dense_limit:
                                continue
                            if runs[tool] and "error" in runs[tool][-1]:
                                continue
                            load_now = os.getloadavg()[0]
                            result = _run(_command(tool, path, case, folder), env, timeout)
                            result["load"] = load_now
                            runs[tool].append(result)
                            print(name, Path(path).suffix, env_name, tool, result, flush=True)
                finally:
                    if load is not None:
                        load.kill()
                        load.wait()
                for tool, results in runs.items():
                    rows.append(_summary(name, path, env_name, tool, case, results))
    return rows


def _summary(name: str, path: str, env: str, tool: str, case: dict, results: list[dict]) -> dict:
    row = {"case": name, "file": Path(path).suffix.lstrip("."), "env": env, "tool": tool,
           "responses": case["responses"]}  # fmt: skip
    good = [r for r in results if "error" not in r]
    if not results:
        row["error"] = "not run: needs the dense persons x items array"
    elif not good:
        row["error"] = results[0]["error"]
    else:
        for key in ("wall", "cpu", "peak_mb"):
            row[key] = statistics.median(r[key] for r in good)
        row["n"] = len(good)
        row["load"] = max(r["load"] for r in good)
    return row


def render(rows: list[dict], args: argparse.Namespace) -> str:
    """The ``## Calibration, whole command`` section."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "## Calibration, whole command",
        "",
        f"Produced by `.venv/bin/python bench/command.py` ({date}, {os.cpu_count()} cores; "
        "the 1-minute load average before each cell is in the last column). Each run is a "
        "fresh process: `zapcat calibrate FILE --model M --out bank.json` (read, fit, Louis "
        "SEs, write) against a script that reads the file with pandas and fits it with mirt "
        "(with SEs) or girth (none); tools interleaved in each repeat; median of the runs "
        "(column n). CPU = user + system of the child. Environments: 1-thread (thread "
        "variables 1 for every tool), default (none set), default+load (beside a busy-loop "
        "process).",
        "",
        "| case | file | env | tool | wall s | CPU s | peak MB | x zapcat wall | x zapcat CPU "
        "| n | load |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    index = {(r["case"], r["file"], r["env"], r["tool"]): r for r in rows}
    for r in rows:
        load = f"{r['load']:.1f}" if "load" in r else ""
        if "error" in r:
            lines.append(f"| {r['case']} | {r['file']} | {r['env']} | {r['tool']} | "
                         f"{r['error']} | | | | | | {load} |")  # fmt: skip
            continue
        z = index.get((r["case"], r["file"], r["env"], "zapcat"), {})
        ratio_w = f"{r['wall'] / z['wall']:.2f}" if "wall" in z else ""
        ratio_c = f"{r['cpu'] / z['cpu']:.2f}" if "cpu" in z else ""
        lines.append(
            f"| {r['case']} | {r['file']} | {r['env']} | {r['tool']} | {r['wall']:.2f} | "
            f"{r['cpu']:.2f} | {r['peak_mb']:.0f} | {ratio_w} | {ratio_c} | {r.get('n', '')} "
            f"| {load} |"
        )
    lines += ["", *_targets(rows, index)]
    return "\n".join(lines) + "\n"


def _targets(rows: list[dict], index: dict) -> list[str]:
    """Issue 18's targets against mirt: 5x on >= 1 million responses, else ahead."""
    met, missed = 0, []
    for r in rows:
        z = index.get((r["case"], r["file"], r["env"], "zapcat"), {})
        if r["tool"] != "mirt" or "wall" not in r or "wall" not in z:
            continue
        target = 5.0 if r["responses"] >= 1_000_000 else 1.0
        for measure in ("wall", "cpu"):
            ratio = r[measure] / z[measure]
            if ratio >= target if target > 1 else ratio > target:
                met += 1
            else:
                wanted = f"{target:g}x" if target > 1 else "ahead"
                missed.append(f"{r['case']} {r['file']} {r['env']} {measure} {ratio:.2f}x "
                              f"(target {wanted})")  # fmt: skip
    out = [f"Targets against the mirt script (wall and CPU of every cell run): {met} met"]
    out[0] += f", {len(missed)} missed: " + "; ".join(missed) + "." if missed else ", none missed."
    return out


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the ``## Calibration, whole command`` section of ``path``."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    title = "## Calibration, whole command"
    start = text.find(title)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 3)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    path.write_text(text)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        tool, path, model, k, layout = sys.argv[2:7]
        peer(tool, path, model, int(k), layout)
        return
    bench = _bench_calibration()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[*bench.CASES, *CAT_LOGS])
    parser.add_argument("--tools", nargs="*", default=["zapcat", "mirt", "girth"])
    parser.add_argument("--envs", nargs="*", default=list(ENVIRONMENTS), choices=ENVIRONMENTS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", nargs="*", default=["csv", "parquet"])
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--dense-limit", type=float, default=2e7, help="peers' largest x.size")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "zapcat-cmd")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--render", type=Path, help="Render a table saved by --json.")
    args = parser.parse_args()
    if args.render:
        rows = json.loads(args.render.read_text())
    else:
        args.data.mkdir(parents=True, exist_ok=True)
        cases = write_cases(args.data, args.cases)
        for case in cases.values():
            case["files"] = [f for f in case["files"] if f.rsplit(".", 1)[-1] in args.formats]
        rows = run(cases, args.tools, args.envs, args.repeats, args.timeout, args.dense_limit)
        if args.json:
            old = json.loads(args.json.read_text()) if args.json.exists() else []
            args.json.write_text(json.dumps(old + rows, indent=1))
            rows = old + rows
    section = render(rows, args)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
