"""``zapcat link``, ``zapcat drift``, ``zapcat dif``, ``zapcat bank transform``/``promote``.

The commands that keep a bank alive from live data (see README, "Maintaining a bank");
``zapcat calibrate --pretest-only`` (online calibration) is in :mod:`api.cli.pretest`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli._common import console, fail
from item_banks.errors import CalibrationError, ZapcatError


class DifMethod(StrEnum):
    """DIF methods."""

    mh = "mh"
    lr = "lr"


def _json(path: Path, what: str) -> Any:
    if not path.exists():
        raise CalibrationError(f"{what} file not found: {str(path)!r}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON ({exc})") from None


def _ids(values: list[str] | None) -> list[str]:
    return [i.strip() for v in values or [] for i in v.split(",") if i.strip()]


def link_command(
    from_bank: Annotated[Path, typer.Argument(help="Bank whose scale is transformed.")],
    to_bank: Annotated[Path, typer.Argument(help="Bank whose scale is the target.")],
    method: Annotated[
        str,
        typer.Option(
            help="Linking method: stocking-lord, haebara, mean-mean or mean-sigma "
            "(also mean/mean, sl, ...)."
        ),
    ] = "stocking-lord",
    items: Annotated[
        list[str] | None,
        typer.Option(help="Common items to use (comma separated or repeated; default all)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Link file (JSON).")] = Path("link.json"),
) -> None:
    """Link FROM's scale to TO's (theta_TO = A theta_FROM + B) through the common items."""
    from calibration.linking import link
    from item_banks.io import read_bank

    try:
        result = link(read_bank(from_bank), read_bank(to_bank), method, items=_ids(items) or None)
    except ZapcatError as error:
        raise fail(error) from None
    out.write_text(json.dumps(result.to_dict(), indent=1))
    console.print(
        f"{result.method}: A = {result.A:.4f} (SE {result.A_se:.4f}), B = {result.B:.4f} "
        f"(SE {result.B_se:.4f}) from {len(result.common_items)} common items; wrote {out}",
        highlight=False,
    )


def transform(
    bank: Annotated[Path, typer.Argument(help="Bank to put on the link's TO scale.")],
    link_file: Annotated[Path, typer.Option("--link", help="Link file (zapcat link).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bank to write.")],
) -> None:
    """Apply a link to every item of a bank (a / A, A b + B; SEs likewise)."""
    from calibration.linking import Link, transform_bank
    from item_banks.io import read_bank, write_bank

    try:
        new = transform_bank(
            read_bank(bank), Link.from_dict(_json(link_file, "link"), source=str(link_file))
        )
        write_bank(new, out)
    except ZapcatError as error:
        raise fail(error) from None
    console.print(f"wrote {len(new)} items to {out}", highlight=False)


def promote_command(
    bank: Annotated[Path, typer.Argument(help="The current bank version.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New bank version to write.")],
    candidates: Annotated[
        Path | None, typer.Option(help="Candidates (zapcat calibrate --pretest-only).")
    ] = None,
    accept: Annotated[
        list[str] | None,
        typer.Option(help="Candidates to make operational (default: those without flags)."),
    ] = None,
    retire: Annotated[
        list[str] | None, typer.Option(help="Items to retire (comma separated or repeated).")
    ] = None,
    link_file: Annotated[
        Path | None, typer.Option("--link", help="Link applied to every item last.")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Version label (default: the current one plus 1).")
    ] = None,
) -> None:
    """Write the next bank version: accepted candidates, retirements, link, provenance.

    Publish it with POST /v1/banks, or promote on the service directly with
    POST /v1/banks/{name}/versions/{version}/promotions.
    """
    from calibration.linking import Link
    from calibration.promotion import promote
    from item_banks.io import read_bank, write_bank

    try:
        old = read_bank(bank)
        new = promote(
            old,
            _json(candidates, "candidates") if candidates else None,
            accept=_ids(accept) if accept else None,
            retire=_ids(retire),
            link=Link.from_dict(_json(link_file, "link"), source=str(link_file))
            if link_file
            else None,
            version=version,
            source=str(candidates or ""),
        )
        write_bank(new, out)
    except ZapcatError as error:
        raise fail(error) from None
    changed = new.provenance["changed_items"]
    console.print(
        f"{new.name} version {new.version}: {len(changed)} items changed "
        f"({len(new.provenance['accepted'])} accepted, {len(new.provenance['retired'])} "
        f"retired); wrote {out}",
        highlight=False,
    )


def drift(
    before: Annotated[Path, typer.Argument(help="Earlier calibration (bank with SEs).")],
    after: Annotated[Path, typer.Argument(help="Later calibration (bank with SEs).")],
    link_file: Annotated[
        Path | None,
        typer.Option("--link", help="Link putting AFTER on BEFORE's scale (zapcat link)."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="False discovery rate of the flags.")] = 0.05,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Table to write (CSV).")] = None,
) -> None:
    """Wald tests of parameter drift per common item, Benjamini-Hochberg flags."""
    from calibration.drift import parameter_drift
    from calibration.linking import Link, transform_bank
    from item_banks.io import read_bank

    try:
        later = read_bank(after)
        if link_file is not None:
            later = transform_bank(later, Link.from_dict(_json(link_file, "link")))
        table = parameter_drift(read_bank(before), later, alpha=alpha)
    except ZapcatError as error:
        raise fail(error) from None
    if out is not None:
        table.to_csv(out)
    flagged = table.index[table["flagged"]].tolist()
    console.print(table.to_string(float_format=lambda x: f"{x:.4f}"), highlight=False)
    console.print(
        f"{len(flagged)} of {len(table)} items flagged at FDR {alpha}: "
        f"{', '.join(flagged) or 'none'}",
        highlight=False,
    )


def dif(
    responses: Annotated[Path, typer.Argument(help="Wide response file (CSV/Parquet).")],
    persons: Annotated[Path, typer.Option(help="Person covariates (CSV, column person).")],
    group: Annotated[str, typer.Option(help="Covariate column holding the groups.")],
    reference: Annotated[str, typer.Option(help="Reference group label.")],
    focal: Annotated[str, typer.Option(help="Focal group label.")],
    method: Annotated[DifMethod, typer.Option(help="mh: Mantel-Haenszel; lr: IRT LR.")] = (
        DifMethod.mh
    ),
    bank: Annotated[
        Path | None, typer.Option(help="Calibration of every item (needed by --method lr).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Table to write (CSV).")] = None,
) -> None:
    """DIF between two groups of examinees: Mantel-Haenszel (ETS A/B/C) or IRT LR."""
    import pandas as pd

    from calibration import read_responses
    from calibration.drift import lr_dif, mantel_haenszel
    from item_banks.io import read_bank

    try:
        data = read_responses(responses)
        table_p = pd.read_csv(persons, dtype=str)
        if "person" not in table_p or group not in table_p:
            raise CalibrationError(
                f"{persons}: needs columns person and {group!r}, got {', '.join(table_p)}"
            )
        labels = table_p.set_index("person")[group]
        if method is DifMethod.mh:
            table = mantel_haenszel(data, labels, reference, focal)
        else:
            if bank is None:
                raise CalibrationError("--method lr needs --bank (a calibration of the items)")
            table = lr_dif(data, read_bank(bank), labels, reference, focal)
    except ZapcatError as error:
        raise fail(error) from None
    if out is not None:
        table.to_csv(out)
    console.print(table.to_string(float_format=lambda x: f"{x:.4f}"), highlight=False)
