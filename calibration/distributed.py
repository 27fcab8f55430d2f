"""Calibration on a Dask cluster: persons partitioned, item-sized sums sent back.

The responses are split by person into partitions that stay on the workers (a partition
of a long Parquet file is read by the worker that holds it). Each EM step sends ``beta``
to every partition, which computes its marginal log-likelihood and expected counts
(sum K x Q) on its persons; the client adds them up and takes the M-step. The Louis (or
cross-product) information is the sum over partitions of the persons' part (item entries
squared) plus the item-wise complete-data term from the total counts. No persons x points
array is ever on the client; the estimates and SEs are those of the in-memory fit up to
the order of the floating-point sums::

    from dask.distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=2, processes=True))
    fit = Calibrator("2pl", client=client).fit("log.parquet")  # or a ResponseData
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration import _se
from calibration._em import EMProblem
from calibration._layout import FloatArray, Group, build_design
from calibration.data import ResponseData, read_responses
from item_banks.errors import CalibrationError, ResponseDataError

PERSONS_PER_PARTITION = 250_000
"""Persons of one partition when in-memory data are split (Parquet keeps its row groups)."""


def _shared(client: Any, value: Any) -> Any:
    """``value`` sent once to every worker, as a future to pass to tasks.

    Large task arguments (a bank's category tables, its groups, ``beta`` of a large bank)
    are otherwise embedded in every task of a ``map``, and dask's handling of such
    keyword arguments fails for large ones.
    """
    return client.scatter([value], broadcast=True, hash=False)[0]


def _map_owned(
    client: Any, func: Any, parts: list[Any], owners: tuple[str, ...], *extra: list[Any],
    **kwargs: Any,
) -> list[Any]:  # fmt: skip
    """``func(part, *extra_i, **kwargs)`` for each partition, on the worker that holds it.

    Each task is pinned to its partition's worker, not left to the scheduler: a task the
    scheduler moves (work stealing when a worker is busy) copies its partition to another
    worker, which then holds two (3.4 GB against 2.0 GB per worker, 4 workers on 2 cores).
    Without ``owners`` (partitions placed by an older client) the scheduler decides.
    """
    if not owners:
        return client.map(func, parts, *extra, pure=False, **kwargs)
    return [
        client.submit(func, part, *args, workers=[owner], pure=False, **kwargs)
        for part, owner, *args in zip(parts, owners, *extra, strict=True)
    ]


# ------------------------------------------------------------------ on the workers
def _partition_problem(data: ResponseData, setup: tuple[Any, ...]) -> EMProblem:
    groups, n_categories, theta, log_weights, dense, score_groups = setup
    design = build_design(data, n_categories, dense=dense, score_groups=score_groups)
    return EMProblem(groups, design, theta, log_weights)


def _partition_estep(problem: EMProblem, beta: FloatArray) -> tuple[float, FloatArray]:
    from calibration._memory import reuse_freed_memory
    from calibration._threads import blas_threads

    with blas_threads(), reuse_freed_memory():
        loglik, counts, _ = problem.estep(beta)
    return loglik, counts


def _partition_covariance(problem: EMProblem, beta: FloatArray, method: str) -> FloatArray:
    from calibration._memory import reuse_freed_memory
    from calibration._threads import blas_threads

    with blas_threads(), reuse_freed_memory():
        _, _, post = problem.estep(beta, keep_posterior=True)
        assert post is not None
        return _se.covariance_sum(problem, beta, method, post)


def _read_partition(path: str, row_groups: list[int], options: dict[str, Any]) -> ResponseData:
    import pyarrow.parquet as pq

    from calibration._read import release_memory, to_frame

    # the id columns as dictionaries (one string per distinct id), as read_responses does
    ids = [options.get("id_column") or "person", options.get("item_column") or "item"]
    ids = [c for c in ids if c in pq.read_schema(path).names]
    source = pq.ParquetFile(path, read_dictionary=ids)
    frame = to_frame(source.read_row_groups(row_groups))
    data = read_responses(frame, layout="long", **options)
    del frame
    release_memory()
    return data


def _summary(
    data: ResponseData,
) -> tuple[tuple[str, ...], list[tuple[float, ...]], int, int, NDArray[np.uint64]]:
    import pandas as pd

    hashes = pd.util.hash_array(np.asarray(data.person_ids, dtype=object))
    return data.item_ids, list(data.category_codes), data.n_persons, data.n_observed, hashes


def _to_global(
    data: ResponseData, items: tuple[tuple[str, ...], list[tuple[float, ...]]]
) -> ResponseData:
    """The partition with the calibration's item positions and category numbers."""
    item_ids, tables = items
    where = {item_id: j for j, item_id in enumerate(item_ids)}
    item_map = np.array([where[i] for i in data.item_ids], dtype=np.int64)
    k_max = max((len(t) for t in data.category_codes), default=1)
    cat_map = np.zeros((data.n_items, k_max), dtype=np.int64)
    for j, codes in enumerate(data.category_codes):
        table = np.asarray(tables[item_map[j]])
        cat_map[j, : len(codes)] = np.searchsorted(table, np.asarray(codes))
    return ResponseData(
        data.person_ids,
        item_ids,
        data.person,
        item_map[data.item],
        cat_map[data.item, data.category],
        tuple(tables),
        data.source,
        data.sha256,
    )


def _category_counts(data: ResponseData, k_max: int) -> FloatArray:
    key = data.item.astype(np.int64) * k_max + data.category
    return np.bincount(key, minlength=data.n_items * k_max).reshape(data.n_items, k_max)


def _empty_persons(data: ResponseData) -> list[str]:
    """Ids of the partition's persons without responses (to the calibrated items)."""
    answered = np.bincount(data.person, minlength=data.n_persons) > 0
    return [p for p, a in zip(data.person_ids, answered, strict=True) if not a]


def _n_observed(data: ResponseData) -> int:
    return data.n_observed


def _drop_persons(data: ResponseData, empty: list[str]) -> ResponseData:
    if not empty:
        return data
    return data.subset_persons(np.bincount(data.person, minlength=data.n_persons) > 0)


# ------------------------------------------------------------------- on the client
@dataclass
class PartitionedResponses:
    """Responses split by person over the workers of a Dask cluster.

    Holds what the client needs (item ids, category tables, counts) and futures of the
    partitions' :class:`~calibration.data.ResponseData`, with global item positions.
    """

    client: Any
    parts: list[Any]
    item_ids: tuple[str, ...]
    category_codes: tuple[tuple[float, ...], ...]
    n_persons: int
    n_observed: int
    source: str = "DataFrame"
    sha256: str = ""
    person_ids: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    owners: tuple[str, ...] = field(default=())
    """Address of the worker holding each partition (its tasks run there)."""

    def to_matrix(self) -> NDArray[np.int64]:
        """Not on the client: the responses stay on the workers."""
        raise CalibrationError(
            "the responses of a calibration on a cluster stay on its workers: person scores "
            "and item fit need the data in memory (calibrate without --scheduler)"
        )

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    @property
    def n_categories(self) -> NDArray[np.int64]:
        """Number of categories of each item, (n_items,)."""
        return np.array([len(c) for c in self.category_codes], dtype=np.int64)

    @property
    def density(self) -> float:
        """Share of the person x item cells that hold a response."""
        return self.n_observed / max(1, self.n_persons * self.n_items)

    def category_counts(self, k_max: int) -> FloatArray:
        """Responses in each category of each item, summed over partitions, (n_items, k_max)."""
        futures = _map_owned(self.client, _category_counts, self.parts, self.owners, k_max=k_max)
        return np.sum(self.client.gather(futures), axis=0).astype(float)

    def subset_items(self, keep: NDArray[np.bool_]) -> PartitionedResponses:
        """The responses to the items where ``keep`` is true (on the workers)."""
        keep = np.asarray(keep, dtype=bool)
        parts = _map_owned(
            self.client, ResponseData.subset_items, self.parts, self.owners,
            keep=_shared(self.client, keep),
        )  # fmt: skip
        items = tuple(i for i, k in zip(self.item_ids, keep, strict=True) if k)
        codes = tuple(c for c, k in zip(self.category_codes, keep, strict=True) if k)
        observed = sum(self.client.gather(_map_owned(self.client, _n_observed, parts, self.owners)))
        return PartitionedResponses(
            self.client, parts, items, codes, self.n_persons, int(observed), self.source,
            self.sha256, owners=self.owners,
        )  # fmt: skip

    def drop_empty_persons(self) -> tuple[PartitionedResponses, list[str]]:
        """Persons without responses left out (on the workers); returns their ids."""
        # only the ids come back: the partitions stay where they are
        futures = _map_owned(self.client, _empty_persons, self.parts, self.owners)
        found = self.client.gather(futures)
        empty = [p for ids in found for p in ids]
        if not empty:
            return self, []
        parts = _map_owned(self.client, _drop_persons, self.parts, self.owners, futures)
        out = PartitionedResponses(
            self.client, parts, self.item_ids, self.category_codes,
            self.n_persons - len(empty), self.n_observed, self.source, self.sha256,
            owners=self.owners,
        )  # fmt: skip
        return out, empty


def partition(
    client: Any,
    source: ResponseData | str | Path,
    *,
    persons_per_partition: int = PERSONS_PER_PARTITION,
    **options: Any,
) -> PartitionedResponses:
    """Spread responses over the workers of ``client``, split by person.

    Parameters
    ----------
    client : dask.distributed.Client
    source : ResponseData or path
        In-memory data (split into partitions of ``persons_per_partition`` and sent to the
        workers), or a long-layout Parquet file whose row groups each hold whole persons
        (read by the workers; every worker must see the path).
    **options
        Options of :func:`~calibration.data.read_responses` for a file (``id_column``,
        ``item_column``, ``response_column``, ``categories``).

    Returns
    -------
    PartitionedResponses
    """
    if isinstance(source, ResponseData):
        return _scatter(client, source, persons_per_partition)
    path = Path(source)
    if path.suffix.lower() not in (".parquet", ".pq"):
        return _scatter(client, read_responses(path, **options), persons_per_partition)
    import pyarrow.parquet as pq

    if options.pop("layout", "long") != "long":
        raise CalibrationError("a Parquet file on a cluster must be in the long layout")
    n_groups = pq.ParquetFile(path).metadata.num_row_groups
    workers = sorted(client.scheduler_info()["workers"])
    per = max(1, n_groups // max(1, 2 * len(workers)))
    groups = [list(range(s, min(n_groups, s + per))) for s in range(0, n_groups, per)]
    # partition i is read by worker i mod n, and by no other: the same memory on every
    # worker (left to the scheduler, or as a mere preference, which work stealing
    # overrides, one of 4 workers held 4 of 8 partitions: 5.7 GB against 2.0 GB)
    owners = tuple(workers[i % len(workers)] for i in range(len(groups)))
    local = [
        client.submit(_read_partition, str(path), g, options=options, workers=[owner])
        for g, owner in zip(groups, owners, strict=True)
    ]
    summaries = client.gather(_map_owned(client, _summary, local, owners))
    item_ids: list[str] = []
    codes: dict[str, set[float]] = {}
    hashes = np.concatenate([s[4] for s in summaries])
    split = hashes.size - np.unique(hashes).size
    if split:
        raise ResponseDataError(
            [
                f"{split} person(s) have responses in more than one partition (row groups "
                f"{per} at a time): a cluster needs each person's rows together; sort the "
                "file by person and write row groups of whole persons"
            ],
            source=str(path),
        )
    for items, tables, _, _, _ in summaries:
        for item_id, table in zip(items, tables, strict=True):
            if item_id not in codes:
                item_ids.append(item_id)
                codes[item_id] = set()
            codes[item_id].update(table)
    tables = [tuple(sorted(codes[i])) for i in item_ids]
    parts = _map_owned(client, _to_global, local, owners,
                       items=_shared(client, (tuple(item_ids), tables)))  # fmt: skip
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return PartitionedResponses(
        client, parts, tuple(item_ids), tuple(tables),
        sum(s[2] for s in summaries), sum(s[3] for s in summaries), str(path), digest.hexdigest(),
        owners=owners,
    )  # fmt: skip


def _scatter(client: Any, data: ResponseData, per: int) -> PartitionedResponses:
    n = data.n_persons
    n_parts = max(1, min(-(-n // per), max(2, len(client.scheduler_info()["workers"]))))
    bounds = np.linspace(0, n, n_parts + 1).astype(np.int64)
    pieces = []
    for lo, hi in itertools.pairwise(bounds):
        keep = np.zeros(n, dtype=bool)
        keep[lo:hi] = True
        pieces.append(data.subset_persons(keep))
    workers = sorted(client.scheduler_info()["workers"])
    owners = tuple(workers[i % len(workers)] for i in range(len(pieces)))
    parts = [client.scatter(piece, workers=[w]) for piece, w in zip(pieces, owners, strict=True)]
    return PartitionedResponses(
        client, parts, data.item_ids, data.category_codes, n, data.n_observed, data.source,
        data.sha256, data.person_ids, data.notes, owners,
    )  # fmt: skip


class PartitionedProblem(EMProblem):
    """An :class:`~calibration._em.EMProblem` whose persons live on Dask workers.

    The client keeps the groups and the quadrature (M-step, priors, validity); the
    E-step and the persons' part of the information run on the partitions.
    """

    def __init__(
        self,
        data: PartitionedResponses,
        groups: list[Group],
        n_categories: NDArray[np.int64],
        theta: FloatArray,
        log_weights: FloatArray,
        *,
        dense: bool | None = None,
        score_groups: bool = False,
    ) -> None:
        empty = ResponseData(
            (), data.item_ids, np.zeros(0), np.zeros(0), np.zeros(0), data.category_codes
        )
        super().__init__(groups, build_design(empty, n_categories, dense=False), theta, log_weights)
        self.client = data.client
        setup = (groups, n_categories, theta, log_weights, dense, score_groups)
        self.owners = data.owners
        self.parts = _map_owned(
            data.client, _partition_problem, data.parts, data.owners,
            setup=_shared(data.client, setup),
        )  # fmt: skip

    def estep(
        self, beta: FloatArray, *, keep_posterior: bool = False
    ) -> tuple[float, FloatArray, FloatArray | None]:
        """Marginal log-likelihood and expected counts, summed over the partitions.

        The posterior stays on the workers (``None`` is returned for it).
        """
        shared = _shared(self.client, beta) if beta.size > 2_000 else beta
        futures = _map_owned(self.client, _partition_estep, self.parts, self.owners, beta=shared)
        results = self.client.gather(futures)
        loglik = float(sum(r[0] for r in results))
        counts = results[0][1].copy()
        for _, c in results[1:]:
            counts += c
        return loglik, counts, None

    def covariance_sum(self, beta: FloatArray, method: str) -> FloatArray:
        """The persons' part of the information, summed over the partitions."""
        futures = _map_owned(
            self.client, _partition_covariance, self.parts, self.owners,
            beta=_shared(self.client, beta), method=method,
        )  # fmt: skip
        # fetched one at a time, in order: the client holds two (n_beta, n_beta) arrays
        # (not one per partition), and the sum is the same at every run
        out = futures[0].result().copy()
        for future in futures[1:]:
            out += future.result()
            future.release()
        return out
