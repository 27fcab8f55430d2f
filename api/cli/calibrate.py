"""``zapcat calibrate``: estimate an item bank from response data."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli._common import console, err_console, fail
from item_banks.errors import CalibrationError, ZapcatError
from item_banks.models import model_names

# calibration, pandas, rich.progress and the report (matplotlib) are imported by the
# command when it runs: `zapcat --help` and the other commands never load them


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
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"item_id", "model"} <= set(frame.columns):
        raise CalibrationError(
            f"{path}: needs columns item_id and model, got {', '.join(frame.columns)}"
        )
    return dict(zip(frame["item_id"].str.strip(), frame["model"].str.strip(), strict=True))


def _client(address: str) -> Any:
    """A Dask client of the scheduler at ``address``, with a clear error when none answers."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise CalibrationError("--scheduler needs Dask: pip install 'zapcat[dask]'") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise CalibrationError(
            f"no Dask scheduler answers at {address!r} ({exc}); start one with "
            "'dask scheduler' and workers with 'dask worker ADDRESS'"
        ) from None


def _priors(values: list[str], use_defaults: bool) -> object:
    from calibration.priors import parse_prior

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
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:8786): calibrate on that cluster, persons "
            "split over its workers (a long Parquet file is read by them, row group by row "
            "group; each worker must see the path). Needs zapcat[dask].",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the bank written.")] = "calibrated",
    version: Annotated[str, typer.Option(help="Version of the bank written.")] = "1",
) -> None:
    """Calibrate item parameters (marginal maximum likelihood) and write an item bank.

    The bank carries each parameter's standard error and the calibration's provenance (data
    file hash, models, log-likelihood, quadrature, date, zapcat version).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from calibration import Calibrator, read_responses
    from item_banks.io import read_bank, write_bank

    client = None
    try:
        reading = dict(
            layout=layout.value,
            id_column=id_column,
            item_column=item_column,
            response_column=response_column,
        )
        client = _client(scheduler) if scheduler else None
        if client is not None:
            from calibration.distributed import partition

            data = partition(client, responses, **reading)
        else:
            data = read_responses(responses, **reading)
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
            client=client,
        )
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
            from calibration.report import calibration_report

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
    finally:
        if client is not None:
            client.close()
