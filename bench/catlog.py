"""A CAT log of known parameters, written as long Parquet: the large-scale calibration case.

Each simulee answers ``--answered`` items in two stages, as an adaptive test would: a
quarter from a routing pool (5% of the bank, at random), then the rest at random from the
fifth of the other items whose difficulties are nearest the ability estimated from the
routing answers. Items are chosen from observed answers only (missing at random, so that
marginal ML is consistent), and every item is answered by persons of a restricted ability
range: the data of an operational bank's online calibration.
Slopes are lognormal(0, 0.3) and difficulties N(0, 1), as in real banks.

    .venv/bin/python bench/catlog.py --persons 1000000 --items 2000 --answered 40 \\
        --out /tmp/catlog-40m.parquet

writes 40 million rows (person int64, item string, response int8) in row groups of
``--row-group`` persons (100,000: the partitions of a Dask calibration), and the
generating parameters beside it (``.truth.npz``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WINDOW = 0.2
"""Second-stage items are drawn from this share of the bank, nearest the routing estimate."""

ROUTING = 0.05
"""Share of the bank in the routing pool of the first stage."""


def _answer(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, theta: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """2PL answers (int8) of each person (rows) to their items (n, k)."""
    z = a[items] * (theta[:, None] - b[items])
    return (rng.random(z.shape) < 1.0 / (1.0 + np.exp(-z))).astype(np.int8)


def write_catlog(
    out: Path,
    n_persons: int,
    n_items: int,
    answered: int,
    seed: int = 20261201,
    chunk: int = 100_000,
) -> dict[str, np.ndarray]:
    """Simulate the log and write it; return the true ``a``, ``b``."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    ids = np.array([f"i{j:05d}" for j in range(n_items)])
    order = rng.permutation(n_items)
    pool = order[: max(answered, int(ROUTING * n_items))]
    rest = order[pool.size :]
    rest = rest[np.argsort(b[rest])]
    first = max(1, answered // 4)
    window = min(rest.size, max(answered - first, int(WINDOW * n_items)))
    schema = pa.schema([("person", pa.int64()), ("item", pa.string()), ("response", pa.int8())])
    with pq.ParquetWriter(out, schema) as writer:
        for start in range(0, n_persons, chunk):
            n = min(chunk, n_persons - start)
            theta = rng.normal(size=n)
            routing = pool[np.argsort(rng.random((n, pool.size)), axis=1)[:, :first]]
            x1 = _answer(rng, a, b, theta, routing)
            # the routing estimate: a function of the observed answers only
            score = (x1.sum(axis=1) + 0.5) / (first + 1.0)
            estimate = 1.7 * np.log(score / (1.0 - score))
            centre = np.searchsorted(b[rest], estimate)
            lo = np.clip(centre - window // 2, 0, rest.size - window)
            pick = np.argsort(rng.random((n, window)), axis=1)[:, : answered - first]
            second = rest[lo[:, None] + pick]
            x2 = _answer(rng, a, b, theta, second)
            items = np.concatenate([routing, second], axis=1)
            x = np.concatenate([x1, x2], axis=1)
            person = np.repeat(np.arange(start, start + n, dtype=np.int64), answered)
            table = pa.table(
                {
                    "person": person,
                    "item": pa.array(ids[items.ravel()]),
                    "response": x.ravel(),
                },
                schema=schema,
            )
            # one row group per chunk of whole persons (pyarrow would cut at 1,048,576 rows,
            # splitting a person over two row groups, which a cluster refuses)
            writer.write_table(table, row_group_size=len(table))
    truth = {"a": a, "b": b, "item_ids": ids}
    np.savez(out.with_suffix(".truth.npz"), **truth)
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--answered", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument(
        "--row-group", type=int, default=100_000, help="persons per row group (a partition)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    write_catlog(args.out, args.persons, args.items, args.answered, args.seed, args.row_group)
    rows = args.persons * args.answered
    print(f"wrote {rows:,} responses to {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
