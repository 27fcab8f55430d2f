"""Before/after check of the CAT engine's speed: the measures of ``bench/cat.py``.

Batch simulees per second (500-item 2PL bank, 1,000 simulees, SE < 0.3 or 40 items; wall
and process CPU time) and the per-step p99 of one live test (``respond``) at 500 and
5,000 items, with the functions of ``bench/cat.py``. The engine is imported from
``PYTHONPATH``, so one script times two source trees alike::

    PYTHONPATH=/path/to/old/tree .venv/bin/python bench/cat_ab.py --label before
    .venv/bin/python bench/cat_ab.py --label after

Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

spec = importlib.util.spec_from_file_location("bench_cat", Path(__file__).with_name("cat.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    import engine

    a, b = bench.catsim_params(500)
    theta = np.random.default_rng(5).normal(size=bench.N_SIMULEES)
    bank = bench.zapcat_bank(a, b)
    config = bench.CATConfig(stop_se=bench.SE_STOP, max_items=bench.MAX_ITEMS)
    bench.simulate(bank, config, n=20, seed=123)
    walls, cpus = [], []
    for _ in range(3):
        began, began_cpu = time.perf_counter(), time.process_time()
        res = bench.simulate(bank, config, true_theta=theta, seed=1)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    out = {
        "label": args.label,
        "engine": str(Path(engine.__file__).parent),
        "batch_simulees_per_s_wall": theta.size / min(walls),
        "batch_simulees_per_s_cpu": theta.size / min(cpus),
        "mean_length": float(res.n_scored.mean()),
    }
    live_config = config.replace(stop_se=None)
    for n in (500, 5000):
        lat = bench.live_latency(bench.zapcat_bank(*bench.catsim_params(n, seed=1)), live_config)
        out[f"live_{n}_p99_wall_ms"] = lat["p99"]
        out[f"live_{n}_p99_cpu_ms"] = lat["cpu_p99"]
        out[f"live_{n}_p50_cpu_ms"] = lat["cpu_p50"]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
