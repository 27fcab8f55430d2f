"""Heavy bank-document work kept away from the threads that serve examinees.

Python runs one thread at a time (the GIL), and a single ``json.loads`` or ``json.dumps``
of a 20 MB document holds it for a second or more: every examinee's answer in the same
process waits that long. So:

- a large published body (over :data:`CHILD_PROCESS_BYTES`) is parsed, validated and
  serialised in a child process (:func:`prepare_document`), which sends back the stored
  text and the summary only;
- a stored document is parsed item by item (:func:`parse_stored`), each step short, so
  that other threads get the interpreter between items;
- while a large bank is built, the cyclic garbage collector is held (its full passes
  over a growing heap of millions of objects stop every thread for up to a second), and
  the bank's objects are then moved out of its reach (``gc.freeze``): they live as long
  as the process caches them, and later full collections need not scan them again;
- while administrative work runs (:func:`cooperative`), the interpreter's switch interval
  is lowered from 5 ms to :data:`BUILD_SWITCH_INTERVAL`: a request thread that waits for
  the GIL held by the building thread gets it after at most that long, at each of its
  hand-offs (a request makes dozens: database calls, socket I/O), instead of 5 ms each;
- the child process runs at a lower CPU priority (``nice`` +10), so that on a busy
  machine the processes serving examinees get the cores first.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api.errors import MalformedJSONError
from api.services.idempotency import fingerprint
from item_banks.bank import ItemBank
from item_banks.columns import bank_to_arrays
from item_banks.errors import BankValidationError, Problem
from item_banks.io import bank_from_dict

CHILD_PROCESS_BYTES = 1_000_000
"""Bodies larger than this are prepared in the child process."""

BUILD_SWITCH_INTERVAL = 0.0001
"""Seconds between forced GIL hand-offs while administrative work runs (Python's
default is 0.005); see :func:`cooperative`."""

CHILD_NICENESS = 10
"""How much lower the child process's CPU priority is (``os.nice``)."""

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


@dataclass(frozen=True)
class Prepared:
    """A validated document, ready to store: its text pieces and summary."""

    name: str
    description: str
    n_items: int
    fingerprint: str
    arrays: bytes


def _prepare_here(raw: bytes, path: str, limits: Any) -> Prepared:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise MalformedJSONError(error) from None
    return prepare_parsed(document, path, limits)


def prepare_parsed(document: Any, path: str, limits: Any) -> Prepared:
    """:class:`Prepared` of a parsed document; ``limits(document)`` validates it."""
    bank = limits(document)
    # the arrays hold the whole document: the header and each item's record
    items = bank.to_dict()["items"]
    records = [json.dumps(item, ensure_ascii=True, allow_nan=False) for item in items]
    return Prepared(
        name=bank.name,
        description=bank.description,
        n_items=len(bank),
        fingerprint=fingerprint("POST", path, document),
        arrays=bank_to_arrays(bank, records=[r.encode() for r in records]),
    )


def _prepare_child(raw: bytes, path: str) -> tuple[str, Any]:
    """Run in the child: ``("ok", Prepared)`` or the error as plain data (picklable)."""
    from api.services.banks import validate_document

    try:
        return "ok", _prepare_here(raw, path, validate_document)
    except MalformedJSONError as error:
        return "json", (error.message, error.details)
    except BankValidationError as error:
        return "bank", [p.to_dict() for p in error.problems]


def _lower_priority() -> None:
    """Run in the child when it starts: yield the CPU to the serving processes."""
    try:
        os.nice(CHILD_NICENESS)
    except OSError:  # not permitted here: run at the same priority
        pass


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            context = multiprocessing.get_context("spawn")  # no forked threads or sockets
            _POOL = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_lower_priority
            )
        return _POOL


def prepare_document(raw: bytes, path: str = "/v1/banks") -> Prepared:
    """Parse, validate and serialise a published body (large ones in the child process).

    Raises
    ------
    MalformedJSONError
    BankValidationError
    """
    if len(raw) <= CHILD_PROCESS_BYTES:
        from api.services.banks import validate_document

        return _prepare_here(raw, path, validate_document)
    kind, value = _pool().submit(_prepare_child, raw, path).result()
    if kind == "ok":
        return value
    if kind == "json":
        error = MalformedJSONError(ValueError(value[0]))
        error.message, error.details = value
        raise error
    raise BankValidationError([Problem(**p) for p in value], source="request body")


_GC_LOCK = threading.Lock()
_GC_HOLDERS = 0
_SWITCH_LOCK = threading.Lock()
_SWITCH_HOLDERS = 0
_SWITCH_BEFORE = 0.005


@contextmanager
def cooperative(interval: float | None = None) -> Iterator[None]:
    """Lower the interpreter's switch interval while long administrative work runs.

    Python hands the GIL to a waiting thread only after the holder has run for the
    switch interval (default 5 ms). A thread building a large bank in pure Python thus
    delays every request thread by up to 5 ms at each of its many GIL hand-offs (the
    convoy effect: an answer making 40 of them waits 200 ms). With a 0.1 ms interval the
    request threads get the interpreter almost at once; the builder loses little (a
    hand-off costs a few microseconds). Process-wide; nested and concurrent uses are
    counted and the previous interval comes back when the last one ends.

    Parameters
    ----------
    interval : float, optional
        Seconds, > 0; default :data:`BUILD_SWITCH_INTERVAL`.
    """
    global _SWITCH_HOLDERS, _SWITCH_BEFORE
    value = BUILD_SWITCH_INTERVAL if interval is None else interval
    with _SWITCH_LOCK:
        if _SWITCH_HOLDERS == 0:
            _SWITCH_BEFORE = sys.getswitchinterval()
        _SWITCH_HOLDERS += 1
        sys.setswitchinterval(min(value, sys.getswitchinterval()))
    try:
        yield
    finally:
        with _SWITCH_LOCK:
            _SWITCH_HOLDERS -= 1
            if _SWITCH_HOLDERS == 0:
                sys.setswitchinterval(_SWITCH_BEFORE)


@contextmanager
def building_large_objects() -> Iterator[None]:
    """Hold the cyclic garbage collector while a large, long-lived structure is built.

    On exit the objects built so far are frozen (``gc.freeze``) and collection resumes;
    nested and concurrent uses are counted. The build also runs :func:`cooperative`.
    """
    global _GC_HOLDERS
    with _GC_LOCK:
        _GC_HOLDERS += 1
        gc.disable()
    try:
        with cooperative():
            yield
    finally:
        with _GC_LOCK:
            _GC_HOLDERS -= 1
            if _GC_HOLDERS == 0:
                gc.freeze()
                gc.enable()


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def parse_stored(text: str, *, source: str) -> ItemBank:
    """The bank of a stored document, decoded one item at a time (see the module doc)."""
    at = _skip(text, 0)
    if not text.startswith("{", at):
        return bank_from_dict(json.loads(text), source=source)
    document: dict[str, Any] = {}
    at = _skip(text, at + 1)
    while at < len(text) and text[at] != "}":
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, _skip(text, at) + 1)  # the colon
        if key == "items" and text.startswith("[", at):
            items: list[Any] = []
            at = _skip(text, at + 1)
            while text[at] != "]":
                item, at = _DECODER.raw_decode(text, at)
                items.append(item)
                at = _skip(text, at)
                if text[at] == ",":
                    at = _skip(text, at + 1)
            document[key] = items
            at += 1
        else:
            document[key], at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if at < len(text) and text[at] == ",":
            at = _skip(text, at + 1)
    return bank_from_dict(document, source=source)
