"""Freed arrays are reused during a task where the environment fixed glibc's thresholds.

Dask's workers run with ``MALLOC_TRIM_THRESHOLD_=65536``, which fixes glibc's mmap
threshold at 128 KiB: each array above it is a fresh mapping, paged in again (minor page
faults). The tests count the faults (``getrusage``) in a process started so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROGRAM = """
import json, resource
import numpy as np
from calibration._memory import reuse_freed_memory

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def refill():  # an 8 MB array, freed, then another: its pages again, or reused ones
    a = np.ones(1_000_000); del a
    f0 = faults(); b = np.ones(1_000_000); n = faults() - f0; del b
    return n

refill()  # the first one may grow the heap
out = {"before": refill()}
with reuse_freed_memory():
    refill()
    out["inside"] = refill()
    with reuse_freed_memory():  # nested: still lifted after the inner block
        pass
    out["nested"] = refill()
out["after"] = refill()
print(json.dumps(out))
"""


def run(env_extra: dict[str, str]) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_arrays_are_reused_inside_and_paged_again_after_under_dask_settings() -> None:
    out = run({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert out["before"] > 100  # the fixed threshold: a fresh mapping each time
    assert out["inside"] < out["before"] / 10 and out["nested"] < out["before"] / 10, out
    assert out["after"] > out["before"] / 2, out  # the environment's setting is back


def test_nothing_changes_without_such_a_variable() -> None:
    out = run({})
    # glibc's dynamic threshold already keeps a freed 8 MB block for reuse
    assert all(n < 20 for n in out.values()), out
