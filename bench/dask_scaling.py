"""Calibration on a Dask LocalCluster: wall time, time per EM step and peak memory per worker.

For each CAT log (``bench/catlog.py``, long Parquet) and each number of workers, one fit
with Louis SEs by ``Calibrator("2pl", client=...)`` in a fresh cluster of worker processes
(one thread each); peak resident memory of every worker from ``getrusage``::

    .venv/bin/python bench/dask_scaling.py --logs /tmp/catlog-4m.parquet --workers 1 2
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

# bench/calibration.py would hide the package: keep this folder off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_on_cluster(path: Path, workers: int) -> dict:
    """One calibration of ``path`` on a new LocalCluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster

    from calibration import Calibrator
    from calibration.distributed import partition

    steps: list[float] = []
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        data = partition(client, path)
        read = time.perf_counter() - start
        fit = Calibrator(
            "2pl", client=client, callback=lambda *_: steps.append(time.perf_counter())
        ).fit(data)
        total = time.perf_counter() - start
        peaks = client.run(_peak_mb)
    per_step = (steps[-1] - steps[0]) / max(1, fit.n_iter_ - 1) if len(steps) > 1 else float("nan")
    return {
        "log": path.name,
        "persons": data.n_persons,
        "responses": data.n_observed,
        "workers": workers,
        "partitions": len(data.parts),
        "read_s": read,
        "total_s": total,
        "em_steps": fit.n_iter_,
        "s_per_em_step": per_step,
        "worker_peak_mb": max(peaks.values()),
        "client_peak_mb": _peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", nargs="+", type=Path, required=True)
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    print("| log | persons | responses | workers | partitions | read s | total s | EM steps "
          "| s per EM step | peak MB per worker | client peak MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.logs:
        for workers in args.workers:
            r = fit_on_cluster(path, workers)
            print(
                f"| {r['log']} | {r['persons']:,} | {r['responses']:,} | {r['workers']} | "
                f"{r['partitions']} | {r['read_s']:.1f} | {r['total_s']:.1f} | {r['em_steps']} | "
                f"{r['s_per_em_step']:.2f} | {r['worker_peak_mb']:.0f} | "
                f"{r['client_peak_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
