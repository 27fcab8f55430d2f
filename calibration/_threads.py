"""BLAS threads chosen by the size of each operation, whatever the user's environment says.

OpenBLAS starts as many threads as cores and wakes them for every call. For the many
small products of the E-step and of the Louis information (one ``syrk`` per quadrature
point, batched products of a few hundred rows) waking and joining the threads costs more
than the arithmetic, and when another process holds a core the waiting grows without
bound: on 2PL 50,000 x 100 the standard errors took 4.9 s of CPU with the default two
threads against 0.6 s with one. Operations below :data:`PARALLEL_FLOPS` therefore run on
one BLAS thread (through ``threadpoolctl``, for numpy's and scipy's OpenBLAS alike); larger
ones keep the thread count of the environment.

Work that is a sum over persons (the chunks of a sparse E-step, the batches of the sparse
Louis term) is spread over threads instead, as many as BLAS is configured for (the cores,
or what ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` say: the user's one setting for how
many cores a numerical program may use). The kernels involved (scipy's sparse products,
numpy's ufuncs, ``bincount`` and batched ``matmul``) release the GIL, so two threads on two
cores run a chunk each; each of them calls BLAS on one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from threadpoolctl import ThreadpoolController

PARALLEL_FLOPS = 4e9
"""Floating-point operations of one BLAS call from which several threads may pay off
(about 0.2 s of one core; every call of the calibrations benchmarked is below it)."""


T = TypeVar("T")
R = TypeVar("R")

_current: int | None = None
"""BLAS threads set by the innermost :func:`blas_threads` block (None outside any)."""


@cache
def _controller() -> tuple[ThreadpoolController, int]:
    """The BLAS libraries loaded and their thread count as configured (before any limit)."""
    # first called from a calibration, after numpy and scipy.linalg are loaded
    controller = ThreadpoolController()
    blas = [lib["num_threads"] for lib in controller.info() if lib["user_api"] == "blas"]
    return controller, max(blas, default=1)


@contextlib.contextmanager
def blas_threads(flops: float = 0.0) -> Iterator[None]:
    """One BLAS thread for operations of fewer than ``flops`` operations, else as configured.

    A calibration runs inside ``blas_threads()`` (one thread: its many small products of
    the M-step, the covariance and the tables); its large products are wrapped in
    ``blas_threads(their flops)``, which gives them back the configured thread count.

    Parameters
    ----------
    flops : float, >= 0
        Operations of the largest single BLAS call made inside the block.
    """
    global _current
    controller, configured = _controller()
    threads = configured if flops >= PARALLEL_FLOPS else 1
    if threads == _current:  # already so: setting it again costs up to ms under load
        yield
        return
    outer, _current = _current, threads
    try:
        with controller.limit(limits=threads, user_api="blas"):
            yield
    finally:
        _current = outer


def person_threads() -> int:
    """Threads for work summed over persons: BLAS's configured thread count (at least 1)."""
    return max(1, _controller()[1])


def map_persons(func: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
    """``map(func, tasks)`` on :func:`person_threads` threads, results in the tasks' order.

    The results come back in order, so that sums over them are added in the same order
    (the same floating-point result) whatever the number of threads. ``func`` must not
    change the BLAS thread count (``threadpoolctl`` limits are process-wide).
    """
    threads = person_threads()
    if threads == 1:
        yield from map(func, tasks)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="zapcat-persons") as pool:
        yield from pool.map(func, tasks)
