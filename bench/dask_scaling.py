"""Calibration on a Dask LocalCluster: wall time, CPU and peak memory per worker.

Two studies, each cluster new (worker processes of one thread, ``nanny`` processes, no
dashboard), on CAT logs written by ``bench/catlog.py`` (long Parquet, row groups of whole
persons):

* ``fit``: one whole calibration with Louis SEs (``Calibrator("2pl", client=...)``) per
  log and number of workers: read (partitions read by the workers), total wall time, EM
  steps, wall per EM step, peak resident memory of every worker (``getrusage``) and of
  the client::

      .venv/bin/python bench/dask_scaling.py fit --logs /tmp/cat-1000k.parquet --workers 1 2

* ``steps``: how the cost of one EM iteration grows with the persons at fixed memory per
  worker (weak scaling): log ``i`` is given ``workers[i]`` workers (1M persons per worker
  for 1M, 2M, 4M persons), the partitions are read, then ``--steps`` EM steps are timed
  (SEs off: this measures the iteration, not the fit); wall and the workers' CPU per
  step (``getrusage`` of every worker before and after), client CPU per step::

      .venv/bin/python bench/dask_scaling.py steps \\
          --logs /tmp/cat-1000k.parquet /tmp/cat-2000k.parquet /tmp/cat-4000k.parquet \\
          --workers 1 2 4

On a machine with fewer cores than workers the wall time cannot stay flat (4 workers on 2
cores share them); the workers' CPU per step shows whether the work per worker does.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

# bench/calibration.py would hide the package: keep this folder off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


MALLOC_TRIM = True
"""Whether the workers get Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` (its default)."""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _cluster(workers: int) -> Any:
    import dask
    from dask.distributed import LocalCluster

    os.environ.update(THREADS)  # inherited by the worker processes
    if not MALLOC_TRIM:  # --no-malloc-trim: workers without Dask's MALLOC_TRIM_THRESHOLD_
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=0,  # no spilling or pausing: peak memory is what is measured
    )


def fit_on_cluster(path: Path, workers: int) -> dict:
    """One calibration of ``path`` with Louis SEs on a new LocalCluster of ``workers``."""
    from dask.distributed import Client

    from calibration import Calibrator
    from calibration.distributed import partition

    steps: list[tuple[int, float]] = []
    with _cluster(workers) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        cpu0 = _cpu_s()
        data = partition(client, path)
        read = time.perf_counter() - start
        fit = Calibrator(
            "2pl", client=client, callback=lambda n, *_: steps.append((n, time.perf_counter()))
        ).fit(data)
        total = time.perf_counter() - start
        peaks = client.run(_peak_mb)
        worker_cpu = sum(client.run(_cpu_s).values())
    per_step = (
        (steps[-1][1] - steps[0][1]) / max(1, steps[-1][0] - steps[0][0])
        if len(steps) > 1
        else float("nan")
    )
    return {
        "log": path.name,
        "persons": data.n_persons,
        "responses": data.n_observed,
        "workers": workers,
        "partitions": len(data.parts),
        "read_s": read,
        "total_s": total,
        "em_steps": fit.n_iter_,
        "converged": fit.converged_,
        "s_per_em_step": per_step,
        "worker_peak_mb": max(peaks.values()),
        "worker_cpu_s": worker_cpu,
        "client_cpu_s": _cpu_s() - cpu0,
        "client_peak_mb": _peak_mb(),
    }


def steps_on_cluster(path: Path, workers: int, n_steps: int) -> dict:
    """Wall and CPU of ``n_steps`` EM steps (no SEs) on a new LocalCluster."""
    from dask.distributed import Client, wait

    from calibration import Calibrator
    from calibration.distributed import partition

    marks: list[tuple[int, float, float, float]] = []
    with _cluster(workers) as cluster, Client(cluster) as client:

        def mark(n: int, *_: object) -> None:
            cpu = sum(client.run(_cpu_s).values())
            marks.append((n, time.perf_counter(), cpu, _cpu_s()))

        start = time.perf_counter()
        data = partition(client, path)
        wait(data.parts)  # read now (on the workers), outside the timed steps
        read = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stopped after n_steps: not converged
            Calibrator(
                "2pl", client=client, se_method="none", max_iter=n_steps, callback=mark
            ).fit(data)
        peaks = client.run(_peak_mb)
    (n0, t0, w0, c0), (n1, t1, w1, c1) = marks[0], marks[-1]
    d = max(1, n1 - n0)
    return {
        "log": path.name,
        "persons": data.n_persons,
        "responses": data.n_observed,
        "workers": workers,
        "partitions": len(data.parts),
        "read_s": read,
        "steps": d,
        "wall_per_step": (t1 - t0) / d,
        "worker_cpu_per_step": (w1 - w0) / d,
        "worker_cpu_per_step_each": (w1 - w0) / d / workers,
        "client_cpu_per_step": (c1 - c0) / d,
        "worker_peak_mb": max(peaks.values()),
        "client_peak_mb": _peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("fit", "steps"))
    parser.add_argument("--logs", nargs="+", type=Path, required=True)
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=7, help="EM steps timed (steps study)")
    parser.add_argument(
        "--no-malloc-trim",
        action="store_true",
        help="Start the workers without Dask's MALLOC_TRIM_THRESHOLD_=65536, which fixes "
        "glibc's mmap threshold at 128 KB: every E-step chunk's arrays are then fresh pages.",
    )
    args = parser.parse_args()
    global MALLOC_TRIM
    MALLOC_TRIM = not args.no_malloc_trim
    load = os.getloadavg()[0]
    if args.study == "fit":
        print("| log | persons | responses | workers | partitions | read s | total s | EM steps "
              "| s per EM step | workers' CPU s | client CPU s | peak MB per worker "
              "| client peak MB | load |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for path in args.logs:
            for workers in args.workers:
                load = os.getloadavg()[0]
                r = fit_on_cluster(path, workers)
                print(
                    f"| {r['log']} | {r['persons']:,} | {r['responses']:,} | {r['workers']} | "
                    f"{r['partitions']} | {r['read_s']:.1f} | {r['total_s']:.1f} | "
                    f"{r['em_steps']}{'' if r['converged'] else ' (not converged)'} | "
                    f"{r['s_per_em_step']:.2f} | {r['worker_cpu_s']:.1f} | "
                    f"{r['client_cpu_s']:.1f} | {r['worker_peak_mb']:.0f} | "
                    f"{r['client_peak_mb']:.0f} | {load:.1f} |",
                    flush=True,
                )
        return
    if len(args.workers) != len(args.logs):
        parser.error("the steps study takes one number of workers per log")
    print("| log | persons | responses | workers | partitions | read s | steps timed "
          "| wall s per step | workers' CPU s per step | per worker | client CPU s per step "
          "| peak MB per worker | client peak MB | load |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path, workers in zip(args.logs, args.workers, strict=True):
        load = os.getloadavg()[0]
        r = steps_on_cluster(path, workers, args.steps)
        print(
            f"| {r['log']} | {r['persons']:,} | {r['responses']:,} | {r['workers']} | "
            f"{r['partitions']} | {r['read_s']:.1f} | {r['steps']} | {r['wall_per_step']:.2f} | "
            f"{r['worker_cpu_per_step']:.2f} | {r['worker_cpu_per_step_each']:.2f} | "
            f"{r['client_cpu_per_step']:.3f} | {r['worker_peak_mb']:.0f} | "
            f"{r['client_peak_mb']:.0f} | {load:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
