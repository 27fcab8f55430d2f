"""BLAS threads in calibration follow the size of each operation, not the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROGRAM = """
import json
import numpy as np
from threadpoolctl import threadpool_info
from calibration import Calibrator, ResponseData
from calibration._threads import PARALLEL_FLOPS, blas_threads

def blas():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

rng = np.random.default_rng(0)
theta = rng.normal(size=3000)
p = 1 / (1 + np.exp(-(theta[:, None] - np.linspace(-1, 1, 12))))
x = (rng.random((3000, 12)) < p).astype(int)
seen = []
before = blas()
fit = Calibrator("2pl", callback=lambda *a: seen.append(blas())).fit(ResponseData.from_matrix(x))
after = blas()
with blas_threads():
    small = blas()
    with blas_threads(PARALLEL_FLOPS):
        large = blas()
print(json.dumps({"before": before, "seen": seen, "after": after, "small": small,
                  "large": large, "converged": fit.converged_}))
"""


def test_small_products_run_on_one_thread_whatever_the_environment_says() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["before"] == [2] and out["after"] == [2]  # the user's setting is restored
    assert out["converged"] and out["seen"]
    assert all(threads == [1] for threads in out["seen"])  # during the EM
    assert out["small"] == [1] and out["large"] == [2]
