"""Response export: every recorded response of a bank version (or an assessment), streamed.

Long format, one row per response, in the order of the sessions and their items:

==================  ==========================================================
column              meaning
==================  ==========================================================
``person``          the examinee: a pseudonym (HMAC-SHA256 of the tenant and the
                    platform's reference, 20 hex digits) unless references are
                    asked for
``session_id``      the test session (one sitting: use it as the person of a
                    calibration, see :func:`calibration.online.read_export`)
``item``            item id
``response``        category scored, ``0 .. K - 1``
``seq``             position of the item in the test (1, 2, ...)
``time``            when the response was received (UTC)
``scored``          false for unscored pretest items (status ``pretest`` in the
                    bank version the assessment pins)
``finished``        whether the session is finished
==================  ==========================================================

Practice sessions (started with ``practice: true``) are left out. Rows are read from the
database in partitions (a server-side cursor on PostgreSQL) and written out partition by
partition as CSV or Parquet row groups, so memory stays constant
however many responses there are. Pseudonyms are stable across exports when the service
has ``ZAPCAT_EXPORT_SECRET`` set; otherwise each export draws its own key.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Select, select

from api.db import Database
from api.errors import NotFoundError
from api.models import Assessment, Response, TestSession
from api.services.banks import find_bank_version, load_bank
from item_banks.errors import ZapcatError

FORMATS = ("csv", "parquet")
PARTITION = 50_000
"""Rows read and written at a time."""

SCHEMA = pa.schema(
    [
        ("person", pa.string()),
        ("session_id", pa.string()),
        ("item", pa.string()),
        ("response", pa.int32()),
        ("seq", pa.int32()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("scored", pa.bool_()),
        ("finished", pa.bool_()),
    ]
)


class ExportError(ZapcatError):
    """A response export that cannot be made as asked (unknown format, assessment)."""

    code = "invalid_export"


def export_secret(configured: str | None) -> bytes:
    """The pseudonymisation key: the configured secret, or a fresh random one."""
    return configured.encode() if configured else secrets.token_bytes(32)


def pseudonym(secret: bytes, tenant: str, examinee_ref: str) -> str:
    """Pseudonym of an examinee reference (HMAC-SHA256, 20 hex digits).

    Examples
    --------
    >>> pseudonym(b"k", "t", "alice") == pseudonym(b"k", "t", "alice")
    True
    >>> len(pseudonym(b"k", "t", "alice"))
    20
    """
    message = f"{tenant}\x1f{examinee_ref}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:20]


def response_batches(
    db: Database,
    *,
    tenant: str,
    bank: str,
    version: int,
    assessment_id: str | None = None,
    examinee_refs: bool = False,
    secret: bytes | None = None,
    partition: int = PARTITION,
) -> Iterator[pa.RecordBatch]:
    """The responses of a bank version (or one of its assessments), one batch at a time.

    Parameters
    ----------
    db : Database
    tenant : str
    bank : str
        Bank name.
    version : int
        Bank version (>= 1).
    assessment_id : str, optional
        Only this assessment (it must pin that bank version).
    examinee_refs : bool, default False
        Write the platform's examinee references instead of pseudonyms.
    secret : bytes, optional
        Pseudonymisation key (default: a random one for this export).
    partition : int
        Rows per batch.

    Yields
    ------
    pyarrow.RecordBatch
        With :data:`SCHEMA`; nothing when no response was recorded.

    Raises
    ------
    NotFoundError
        Unknown bank version or assessment (of this tenant).
    """
    row = find_bank_version(db, tenant=tenant, name=bank, version=version)
    scored = {it.item_id: it.status != "pretest" for it in load_bank(db, row)}
    key = secret if secret is not None else export_secret(None)
    R, S, A = Response.__table__, TestSession.__table__, Assessment.__table__
    query = (
        select(
            R.c.session_id,
            S.c.examinee_ref,
            R.c.item_id,
            R.c.response,
            R.c.seq,
            R.c.received_at,
            S.c.status,
        )
        .select_from(R.join(S, S.c.id == R.c.session_id).join(A, A.c.id == S.c.assessment_id))
        .where(S.c.tenant == tenant, A.c.bank_version_id == row.id, S.c.practice.is_(False))
        .order_by(R.c.session_id, R.c.seq)
    )
    if assessment_id is not None:
        with db.read() as session:
            found = session.scalar(
                select(A.c.bank_version_id).where(A.c.id == assessment_id, A.c.tenant == tenant)
            )
        if found is None:
            raise NotFoundError("assessment", assessment_id)
        if found != row.id:
            raise ExportError(
                f"assessment {assessment_id!r} does not use bank {bank!r} version {version}"
            )
        query = query.where(A.c.id == assessment_id)
    pretest = pa.array([i for i, counts in scored.items() if not counts], pa.string())
    with db.engine.connect() as conn:
        for rows in _raw_partitions(conn, query, partition):
            sessions, refs, items, responses, seqs, times, status = (
                list(c) for c in zip(*rows, strict=True)
            )
            item_arr = pa.array(items, pa.string())
            ref_arr = pa.array(refs, pa.string())
            if examinee_refs:
                people = ref_arr
            else:  # one HMAC per distinct examinee of the partition
                codes = pc.dictionary_encode(ref_arr)
                names = [pseudonym(key, tenant, ref) for ref in codes.dictionary.to_pylist()]
                people = pc.take(pa.array(names, pa.string()), codes.indices)
            yield pa.RecordBatch.from_arrays(
                [
                    people,
                    pa.array(sessions, pa.string()),
                    item_arr,
                    pa.array(responses, pa.int32()),
                    pa.array(seqs, pa.int32()),
                    _timestamps(times),
                    pc.invert(pc.is_in(item_arr, value_set=pretest)),
                    pc.equal(pa.array(status, pa.string()), "finished"),
                ],
                schema=SCHEMA,
            )


def _raw_partitions(conn: Connection, query: Select[Any], size: int) -> Iterator[list[Any]]:
    """The query's rows as the driver returns them, ``size`` at a time.

    The DBAPI cursor is used directly (a named, server-side cursor on PostgreSQL): per-row
    type processing would cost more than everything else of an export.
    """
    compiled = query.compile(dialect=conn.dialect)
    params: Any = (
        tuple(compiled.params[k] for k in compiled.positiontup or ())
        if compiled.positional
        else compiled.params
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    named = conn.dialect.name == "postgresql"
    cursor = driver.cursor(name="zapcat_export") if named else driver.cursor()
    try:
        cursor.execute(str(compiled), params)
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                break
            yield rows
    finally:
        cursor.close()


def _timestamps(values: list[Any]) -> pa.Array:
    """UTC timestamps from the driver's values (SQLite: ISO text in UTC; else datetimes)."""
    if values and isinstance(values[0], str):
        return (
            pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(SCHEMA.field("time").type)
        )
    return pa.array(values, SCHEMA.field("time").type)


class _Sink(io.RawIOBase):
    """A writable stream that hands over what was written since the last call."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def encode(batches: Iterator[pa.RecordBatch], fmt: str) -> Iterator[bytes]:
    """The bytes of a CSV (header first) or Parquet file, one piece per batch.

    Raises
    ------
    ExportError
        Unknown format.
    """
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return _encode(batches, fmt)


def _encode(batches: Iterator[pa.RecordBatch], fmt: str) -> Iterator[bytes]:
    sink = _Sink()
    if fmt == "csv":
        header = True
        for batch in batches:
            pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=header))
            header = False
            yield sink.take()
        if header:  # no response: the header alone
            pacsv.write_csv(SCHEMA.empty_table(), sink)
            yield sink.take()
        return
    writer = pq.ParquetWriter(sink, SCHEMA, compression="zstd")
    for batch in batches:
        writer.write_batch(batch, row_group_size=len(batch))
        yield sink.take()
    writer.close()
    yield sink.take()


def format_of(path: Path, fmt: str | None = None) -> str:
    """``"csv"`` or ``"parquet"`` from ``fmt`` or the file's suffix."""
    if fmt:
        return fmt
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def write_export(batches: Iterator[pa.RecordBatch], path: Path, fmt: str) -> int:
    """Write an export to ``path``; returns the number of rows written."""
    n = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal n
        for batch in batches:
            n += len(batch)
            yield batch

    with open(path, "wb") as out:
        for piece in encode(counted(), fmt):
            out.write(piece)
    return n
