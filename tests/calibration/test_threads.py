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


def test_persons_on_several_threads_give_the_one_thread_fit(monkeypatch) -> None:
    """The sparse E-step's chunks and the Louis term's batches on 3 threads: same numbers.

    Their sums are added in chunk order, so the estimates, SEs and log-likelihood equal the
    one-thread fit's to the last bit; the threads are checked to have been used.
    """
    import threading

    import numpy as np

    from calibration import Calibrator, ResponseData, _em, _se_sparse, _threads

    rng = np.random.default_rng(18)
    n, m, answered = 3000, 60, 12
    theta = rng.normal(size=n)
    a, b = rng.lognormal(0.0, 0.3, m), rng.normal(size=m)
    x = (rng.random((n, m)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(float)
    keep = np.argsort(rng.random((n, m)), axis=1) < answered  # a sparse design
    x[~keep] = np.nan
    data = ResponseData.from_matrix(x)
    # many chunks and batches on this small design
    monkeypatch.setattr(_em, "CHUNK_ROWS", 200)
    monkeypatch.setattr(_se_sparse, "SCATTER_PAIRS", 5000)
    names: set[str] = set()
    posterior, centred = _em._posterior, _se_sparse._centred

    def seen(func):
        def inner(*args, **kwargs):
            names.add(threading.current_thread().name)
            return func(*args, **kwargs)

        return inner

    monkeypatch.setattr(_em, "_posterior", seen(posterior))
    monkeypatch.setattr(_se_sparse, "_centred", seen(centred))
    fits = {}
    for threads in (1, 3):
        monkeypatch.setattr(_threads, "person_threads", lambda t=threads: t)
        names.clear()
        fit = Calibrator("2pl").fit(data)
        assert not fit.result_.problem.design.dense
        fits[threads] = (fit.result_.params, fit.result_.loglik, set(names))
    (one, ll_one, names_one), (three, ll_three, names_three) = fits[1], fits[3]
    assert names_one == {"MainThread"}
    assert len(names_three) == 3 and "MainThread" not in names_three
    assert ll_one == ll_three
    cols = [c for c in one.columns if c not in ("model", "n_categories")]
    assert np.array_equal(one[cols].to_numpy(), three[cols].to_numpy())
    assert np.isfinite(one["a_se"]).all()


def test_large_dense_design_in_chunks_on_threads_equals_the_one_call_e_step(monkeypatch) -> None:
    """A dense design of 6,000 rows in chunks of 1,000 on 1 and 3 threads: the same fit
    as the one-product E-step (to rounding), and bit-identical between thread counts."""
    import numpy as np

    from calibration import Calibrator, ResponseData, _em, _threads

    rng = np.random.default_rng(7)
    n, m = 6000, 25
    theta = rng.normal(size=n)
    a, b = rng.lognormal(0.0, 0.3, m), rng.normal(size=m)
    x = (rng.random((n, m)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(float)
    x[rng.random((n, m)) < 0.1] = np.nan  # incomplete: the observed-indicator columns too
    data = ResponseData.from_matrix(x)
    chunked: list[float] = []
    original = _em.EMProblem._estep_dense_chunks

    def counting(self, *args, **kwargs):
        chunked.append(1.0)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_em.EMProblem, "_estep_dense_chunks", counting)
    fits = {}
    for label, rows, threads in (("one call", 10**9, 1), ("1 thread", 1000, 1), ("3", 1000, 3)):
        monkeypatch.setattr(_em, "DENSE_CHUNK_ROWS", rows)
        monkeypatch.setattr(_threads, "person_threads", lambda t=threads: t)
        chunked.clear()
        fit = Calibrator("2pl").fit(data)
        assert fit.result_.problem.design.dense and fit.result_.problem.design.n_rows > 2000
        assert bool(chunked) == (label != "one call")
        params = fit.result_.params
        fits[label] = (params[[c for c in params.columns if c[0] in "ab"]].to_numpy(),
                       fit.result_.loglik)  # fmt: skip
    np.testing.assert_allclose(fits["1 thread"][0], fits["one call"][0], rtol=1e-8)
    assert abs(fits["1 thread"][1] - fits["one call"][1]) < 1e-8 * abs(fits["one call"][1])
    assert np.array_equal(fits["1 thread"][0], fits["3"][0]) and fits["1 thread"][1] == fits["3"][1]
