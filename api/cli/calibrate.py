"""``zapcat calibrate``: estimate an item bank from response data."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli._common import console, err_console, fail
from calibration import Calibrator, parse_prior, read_responses
from calibration.report import calibration_report
from item_banks.errors import CalibrationError, ZapcatError
from item_banks.io import read_bank, write_bank
from item_banks.models import model_names


class Layout(StrEnum):
    """Layouts of response files."""

    wide = "wide"
    long = "long"


class SEMethod(StrEnum):
    """Standard-error methods."""

    louis = "louis"
    crossprod = "crossprod"
    none = "none"


class ScoreMethod(StrEnum):
    """Person-score estimators."""

    eap = "eap"
    map = "map"
    ml = "ml"
    wle = "wle"


def _item_models(path: Path) -> dict[str, str]:
    """Read ``item_id, model`` pairs from a CSV (two columns) or a JSON object."""
    if not path.exists():
        raise CalibrationError(f"item-models file not found: {str(path)!r}")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path}: expected an object {{item_id: model}}")
        return {str(k): str(v) for k, v in data.items()}
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"item_id", "model"} <= set(frame.columns):
        raise CalibrationError(
            f"{path}: needs columns item_id and model, got {', '.join(frame.columns)}"
        )
    return dict(zip(frame["item_id"].str.strip(), frame["model"].str.strip(), strict=True))


def _priors(values: list[str], use_defaults: bool) -> object:
    if not values:
        return "default" if use_defaults else None
    out = {}
    for text in values:
        name, sep, spec = text.partition("=")
        if not sep or not name.strip():
            raise CalibrationError(
                f"--prior must look like 'a=lognormal(0,0.5)' or 'c=beta(5,17)', got {text!r}"
            )
        out[name.strip()] = parse_prior(spec)
    return out


def calibrate(
    responses: Annotated[
        Path, typer.Argument(help="Response file: CSV, TSV or Parquet.", show_default=False)
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help=f"Item model of every item ({', '.join(model_names())})."
        ),
    ] = "2pl",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Item bank to write (.json or .csv).")
    ] = Path("bank.json"),
    layout: Annotated[
        Layout,
        typer.Option(
            help="wide: one row per person, one column per item; long: one row per "
            "response (person, item, response columns)."
        ),
    ] = Layout.wide,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="Person-id column (wide default: first column if named person/id; "
            "long default: person)."
        ),
    ] = None,
    item_column: Annotated[str, typer.Option(help="Item column of the long layout.")] = "item",
    response_column: Annotated[
        str, typer.Option(help="Response column of the long layout.")
    ] = "response",
    item_models: Annotated[
        Path | None,
        typer.Option(
            help="Model per item: CSV with columns item_id,model or JSON "
            "{item_id: model}; other items use --model."
        ),
    ] = None,
    prior: Annotated[
        list[str] | None,
        typer.Option(
            help="Prior on a parameter, repeatable: 'a=lognormal(0,0.5)', "
            "'c=beta(5,17)', 'b=normal(0,2)'. Replaces the default priors."
        ),
    ] = None,
    default_priors: Annotated[
        bool,
        typer.Option(
            help="Without --prior: Beta(5,17) on the 3PL/4PL c (BILOG-MG default) and "
            "Beta(17,2) on the 4PL u; --no-default-priors for pure ML."
        ),
    ] = True,
    anchors: Annotated[
        Path | None,
        typer.Option(help="Item bank whose items present in the data are held fixed (anchors)."),
    ] = None,
    quad: Annotated[int, typer.Option(help="Quadrature points on [-6, 6].", min=5)] = 61,
    max_iter: Annotated[int, typer.Option(help="Largest number of EM steps.", min=1)] = 2000,
    tol: Annotated[float, typer.Option(help="Convergence: largest parameter change.")] = 1e-4,
    se: Annotated[
        SEMethod,
        typer.Option(help="Standard errors: louis (exact observed information), crossprod, none."),
    ] = SEMethod.louis,
    min_responses: Annotated[
        int, typer.Option(help="Items with fewer responses are left out (reported).", min=1)
    ] = 10,
    scores: Annotated[
        Path | None, typer.Option(help="Write person scores (theta, se) to this CSV.")
    ] = None,
    score_method: Annotated[
        ScoreMethod, typer.Option(help="Estimator of the person scores.")
    ] = ScoreMethod.eap,
    fit: Annotated[
        Path | None,
        typer.Option(help="Write item fit (S-X2, infit/outfit, RMSD) to this CSV."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write a self-contained HTML report (summary, parameters, fit, "
            "information, Wright map) to this file."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the bank written.")] = "calibrated",
    version: Annotated[str, typer.Option(help="Version of the bank written.")] = "1",
    skills: Annotated[
        Path | None,
        typer.Option(help="Item -> skill map (CSV item_id,skill): calibrate a battery, each "
                     "skill on its own scale, then the latent correlations; needs "
                     "--out-battery."),
    ] = None,
    out_battery: Annotated[
        Path | None,
        typer.Option(help="Battery file to write with --skills (banks written beside it)."),
    ] = None,
) -> None:
    """Calibrate item parameters (marginal maximum likelihood) and write an item bank.

    The bank carries each parameter's standard error and the calibration's provenance (data
    file hash, models, log-likelihood, quadrature, date, zapcat version).
    """
    try:
        data = read_responses(
            responses,
            layout=layout.value,
            id_column=id_column,
            item_column=item_column,
            response_column=response_column,
        )
        fixed = read_bank(anchors) if anchors is not None else None
        options = dict(
            item_models=_item_models(item_models) if item_models else None,
            priors=_priors(prior or [], default_priors),
            fixed=fixed,
            n_quad=quad,
            max_iter=max_iter,
            tol=tol,
            se_method=se.value,
            min_responses=min_responses,
        )
        if skills is not None or out_battery is not None:
            if skills is None or out_battery is None:
                raise CalibrationError("--skills and --out-battery go together")
            from api.cli.battery import calibrate_to_battery

            calibrate_to_battery(data, skills, out_battery, model, options, name)
            return
        with Progress(
            TextColumn("[bold]EM"),
            BarColumn(),
            TextColumn("step {task.completed:.0f}"),
            TextColumn("log-lik {task.fields[loglik]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("em", total=max_iter, loglik="")

            def tick(step: int, loglik: float, change: float) -> None:
                progress.update(task, completed=step, loglik=f"{loglik:.3f}")

            fitted = Calibrator(model, callback=tick, **options).fit(data)
        result = fitted.result_
        if report is not None:  # first: it also explains a fit that cannot become a bank
            calibration_report(result).write(report)
            console.print(f"wrote report to {report}")
        bank = result.to_item_bank(name=name, version=version)
        write_bank(bank, out)
        console.print(str(result.summary()), highlight=False, soft_wrap=True)
        console.print(f"wrote {len(bank)} items to {out}")
        if scores is not None:
            table = result.scores(score_method.value)
            table.to_csv(scores)
            console.print(
                f"wrote {score_method.value.upper()} scores of {len(table)} persons to {scores}"
            )
        if fit is not None:
            result.item_fit().to_csv(fit)
            console.print(f"wrote item fit to {fit}")
    except ZapcatError as error:
        raise fail(error) from None
