"""``zapcat calibrate EXPORT --anchors BANK --pretest-only``: online calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.cli._common import console
from calibration.online import OnlineCalibrator, read_export
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError


def calibrate_pretest(
    responses: Path, anchors: ItemBank | None, out: Path, *, method: str, **options: Any
) -> None:
    """Estimate the pretest items of an export on the anchors' scale; write candidates."""
    if anchors is None:
        raise CalibrationError(
            "--pretest-only needs --anchors BANK: the bank the responses were collected with"
        )
    fit = OnlineCalibrator(anchors, method=method, **options).fit(read_export(responses, anchors))
    result = fit.result_
    out.write_text(json.dumps(result.to_dict(), indent=1))
    cols = [c for c in result.items.columns if c not in ("model", "n_categories")]
    console.print(
        f"{result.method.upper()}: {len(result.items)} pretest items, "
        f"{len(result.operational_items)} operational items fixed; population "
        f"N({result.latent_mean:.3f}, {result.latent_sd:.3f}^2) on the bank's scale",
        highlight=False,
    )
    console.print(result.items[cols].to_string(float_format=lambda x: f"{x:.3f}"), highlight=False)
    for item_id, reason in result.excluded.items():
        console.print(f"not estimated: {item_id} ({reason})", highlight=False)
    n_ok = int(result.items["accepted"].sum())
    console.print(
        f"{n_ok} of {len(result.items)} candidates without flags; wrote {out}", highlight=False
    )
