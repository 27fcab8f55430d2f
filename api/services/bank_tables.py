"""The engine's tables of a large bank, computed in the child process.

The first test on a bank needs the engine's tables of it (log-probabilities on the
quadrature grid, information on a fine grid: about 5 KB per item, 10-15 s of numpy work
for 100,000 items). Computed in the server they take a core from the processes serving
examinees, and the interpreter between numpy calls. For a bank of
:data:`CHILD_TABLES_ITEMS` items or more, the assessment's creation has them computed
by the child process (:func:`api.services.bank_documents`'s, at lower priority) from the
bank's stored arrays: the child writes them to one file in shared memory
(``/dev/shm``), and the server maps that file read-only and adopts the arrays
(:meth:`engine._tables.BankTables.adopt`): no copy, no parsing, no per-item work here.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from typing import Any

import numpy as np

from api.services.bank_documents import _pool
from engine._tables import bank_tables
from item_banks.bank import ItemBank

CHILD_TABLES_ITEMS = 5_000
"""Banks with at least this many items get their engine tables from the child process."""


def _reserve(size: int) -> tuple[int, str] | None:
    """An open file of ``size`` bytes with its space reserved, or ``None``.

    In ``/dev/shm`` if it has room (a container's is often 64 MB), else in the temporary
    folder.
    """
    for folder in ("/dev/shm", None):
        if folder is not None and not os.path.isdir(folder):
            continue
        handle, path = tempfile.mkstemp(prefix="zapcat-tables-", dir=folder)
        try:
            os.posix_fallocate(handle, 0, size)  # ENOSPC here, not SIGBUS when written
            return handle, path
        except OSError:
            os.close(handle)
            os.unlink(path)
    return None


def _tables_child(arrays: bytes, version: str, config: dict[str, Any]) -> tuple[str, Any]:
    """Run in the child: ``("ok", (path, layout))`` of the written tables, or the error."""
    from engine import session as cat
    from engine.config import CATConfig
    from item_banks.columns import bank_from_arrays
    from item_banks.errors import ZapcatError

    try:
        bank = bank_from_arrays(arrays, version=version)
        cat.start(bank, CATConfig.from_dict(config, bank), seed=0)
    except ZapcatError as error:
        return "error", error.message
    tables = bank_tables(bank).export()
    layout, size = [], 0
    for name, array in tables.items():
        layout.append((name, array.dtype.str, array.shape, size))
        size += -(-array.nbytes // 64) * 64
    size = max(size, 64)
    reserved = _reserve(size)
    if reserved is None:
        return "error", f"no room for {size} bytes of tables in /dev/shm or the temporary folder"
    handle, path = reserved
    try:
        with mmap.mmap(handle, size) as view:
            for (_, dtype, shape, offset), array in zip(layout, tables.values(), strict=True):
                target = np.ndarray(shape, dtype=dtype, buffer=view, offset=offset)
                target[...] = array
                del target
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(handle)
    return "ok", (path, layout)


def build_in_child(bank: ItemBank, config: Any, arrays: bytes) -> bool:
    """Compute the tables of (bank, config) in the child and adopt them here.

    Parameters
    ----------
    bank : ItemBank
        The bank built from ``arrays`` (same items, same order).
    config : CATConfig
    arrays : bytes
        The bank's ``zapcat-bank-arrays/1`` binary.

    Returns
    -------
    bool
        False when the child refused the configuration (the real start reports it).
    """
    kind, value = _pool().submit(_tables_child, arrays, bank.version, config.to_dict()).result()
    if kind != "ok":
        return False
    path, layout = value
    try:
        with open(path, "rb") as file:
            view = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    finally:
        os.unlink(path)  # the mapping lives on as long as the arrays
    adopted = {
        name: np.ndarray(shape, dtype=dtype, buffer=view, offset=offset)
        for name, dtype, shape, offset in layout
    }
    bank_tables(bank).adopt(adopted)
    return True
