"""Start-up time of the ``zapcat`` command: ``--help`` and ``bank show`` of the demo bank.

Each run is a fresh process; wall time and CPU time (user + system, from ``wait4``).
*Warm*: the files are in the page cache (after a first run). *Cold*: before each run the
page cache of every file the command may read (the virtual environment's ``lib`` and the
project's sources) is dropped with ``posix_fadvise(DONTNEED)``, file by file, so the
interpreter reads its modules from disk as after a reboot (other processes' caches are
left alone)::

    .venv/bin/python bench/startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZAPCAT = Path(sys.executable).with_name("zapcat")
DEMO = ROOT / "item_banks" / "examples" / "skills_demo.json"
COMMANDS = {"zapcat --help": ["--help"], "zapcat bank show DEMO": ["bank", "show", str(DEMO)]}


def drop_caches() -> int:
    """Drop the page cache of the environment's and the project's files; return how many."""
    roots = [Path(sys.prefix) / "lib", ROOT / "api", ROOT / "item_banks", ROOT / "calibration"]
    roots += [ROOT / "engine", Path(sys.base_prefix) / "lib"]
    n = 0
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                try:
                    fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    n += 1
                finally:
                    os.close(fd)
    return n


def run(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(ZAPCAT), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, COLUMNS="120"),
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("| command | cache | wall s (median) | wall s (min) | CPU s (median) |")
    print("|---|---|---:|---:|---:|")
    for label, cmd in COMMANDS.items():
        for cache in ("warm", "cold"):
            walls, cpus = [], []
            run(cmd)
            for _ in range(args.repeats):
                if cache == "cold":
                    drop_caches()
                wall, cpu = run(cmd)
                walls.append(wall)
                cpus.append(cpu)
            print(
                f"| `{label}` | {cache} | {statistics.median(walls):.3f} | {min(walls):.3f} | "
                f"{statistics.median(cpus):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
