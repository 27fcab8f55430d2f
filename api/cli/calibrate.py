"""``zapcat calibrate``: estimate an item bank from response data."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli._common import console, err_console, fail
from item_banks.errors import (
    MAX_LISTED,
    CalibrationError,
    ConvergenceWarning,
    ResponseDataError,
    ZapcatError,
)

if TYPE_CHECKING:
    from calibration import CalibrationResult

# calibration, pandas, rich.progress and the report (matplotlib) are imported by the
# command when it runs: `zapcat --help` and the other commands never load them

MODEL_NAMES = ("rasch", "1pl", "2pl", "3pl", "4pl", "grm", "gpcm", "pcm", "rsm")
"""The built-in item models (``item_banks.models.model_names()``, which imports numpy; a
test keeps the two equal), listed by ``zapcat calibrate --help``."""


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
    ctx: typer.Context,
    responses: Annotated[
        Path, typer.Argument(help="Response file: CSV, TSV or Parquet.", show_default=False)
    ],
    model: Annotated[
        str,
        typer.Option("--model", "-m", help=f"Item model of every item ({', '.join(MODEL_NAMES)})."),
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
    missing: Annotated[
        str | None,
        typer.Option(
            help="Missing-value codes besides empty cells, NA and '.', comma separated: "
            "'-1,9,NA' (without it such codes are categories)."
        ),
    ] = None,
    drop: Annotated[
        list[str] | None,
        typer.Option(help="Leave these items out: ITEM[,ITEM] (repeatable)."),
    ] = None,
    reverse: Annotated[
        list[str] | None,
        typer.Option(
            help="Reverse-score these items (category k becomes K-1-k; reverse-worded "
            "items): ITEM[,ITEM] (repeatable)."
        ),
    ] = None,
    all_problems: Annotated[
        bool,
        typer.Option(
            "--all-problems", help="List every problem of the data (by default the first 20)."
        ),
    ] = False,
    accept_flagged: Annotated[
        bool,
        typer.Option(
            help="Mark the items flagged by the diagnostics as accepted in the bank, so that "
            "the engine administers them (by default it does not)."
        ),
    ] = False,
    pretest_only: Annotated[
        bool,
        typer.Option(
            help="Online calibration of a response export (zapcat responses export): the "
            "--anchors bank's operational items fixed, its pretest items estimated with the "
            "population's mean and SD; --out gets the candidates (zapcat bank promote)."
        ),
    ] = False,
    online_method: Annotated[
        str, typer.Option(help="With --pretest-only: mem (multiple EM cycles) or oem (one).")
    ] = "mem",
    min_pretest_responses: Annotated[
        int, typer.Option(help="With --pretest-only: flag candidates with fewer responses.")
    ] = 200,
    skills: Annotated[
        Path | None,
        typer.Option(
            help="Item -> skill map (CSV item_id,skill): calibrate a battery, each "
            "skill on its own scale, then the latent correlations; needs "
            "--out-battery."
        ),
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
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from calibration import Calibrator, read_responses
    from calibration.recode import drop_items, reverse_items, split_ids
    from item_banks.io import read_bank, write_bank

    client = None
    try:
        if pretest_only:
            from api.cli.pretest import calibrate_pretest

            return calibrate_pretest(
                responses,
                read_bank(anchors) if anchors is not None else None,
                out,
                method=online_method,
                model=model,
                priors=_priors(prior or [], default_priors),
                n_quad=quad,
                max_iter=max_iter,
                tol=tol,
                se_method=se.value,
                min_responses=min_pretest_responses,
            )
        reading = dict(
            layout=layout.value,
            id_column=id_column,
            item_column=item_column,
            response_column=response_column,
            missing=missing,
        )
        client = _client(scheduler) if scheduler else None
        if client is not None and not (drop or reverse):
            from calibration.distributed import partition

            data = partition(client, responses, **reading)  # read by the workers
        else:
            data = read_responses(responses, **reading)
            data = reverse_items(drop_items(data, split_ids(drop)), split_ids(reverse))
            if client is not None:
                from calibration.distributed import partition

                data = partition(client, data)
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
        if skills is not None or out_battery is not None:
            if skills is None or out_battery is None:
                raise CalibrationError("--skills and --out-battery go together")
            from api.cli.battery import calibrate_to_battery

            calibrate_to_battery(data, skills, out_battery, model, options, name)
            return
        with (
            Progress(
                TextColumn("[bold]EM"),
                BarColumn(),
                TextColumn("step {task.completed:.0f}"),
                TextColumn("log-lik {task.fields[loglik]}"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as progress,
            warnings.catch_warnings(),
        ):
            # the summary says whether EM converged and which parameters diverged
            warnings.simplefilter("ignore", ConvergenceWarning)
            task = progress.add_task("em", total=max_iter, loglik="")

            def tick(step: int, loglik: float, change: float) -> None:
                progress.update(task, completed=step, loglik=f"{loglik:.3f}")

            try:
                fitted = Calibrator(model, callback=tick, **options).fit(data)
            except CalibrationError as error:
                raise CalibrationError(_with_way_out(error.message, model)) from None
        result = fitted.result_
        if report is not None:  # first: it also explains a fit that cannot become a bank
            from calibration.report import calibration_report

            calibration_report(result).write(report)
            console.print(f"wrote report to {report}")
        console.print(str(result.summary()), highlight=False, soft_wrap=True, markup=False)
        if result.flags:
            _print_ways_forward(ctx, result, prior or [], drop or [])
        try:
            bank = result.to_item_bank(name=name, version=version, accept_flagged=accept_flagged)
        except CalibrationError as error:  # refused: still leave the user a way forward
            _write_tables(result, scores, score_method, fit)
            negative = result.negative_slopes()
            command = _command_line(ctx, {"reverse": split_ids(reverse) + negative})
            raise CalibrationError(
                f"{error.message}\nnot written: {out}. To reverse-score them:\n  {command}\n"
                f"or leave them out with --drop {','.join(negative)}"
            ) from None
        write_bank(bank, out)
        console.print(f"wrote {len(bank)} items to {out}")
        _write_tables(result, scores, score_method, fit)
    except ResponseDataError as error:
        if all_problems:
            head = error.message.splitlines()[0]
            raise fail(_Listed(head, error.problems)) from None
        if len(error.problems) > MAX_LISTED:
            raise fail(_Listed(f"{error.message} (--all-problems lists every one)", ())) from None
        raise fail(error) from None
    except ZapcatError as error:
        raise fail(error) from None
    finally:
        if client is not None:
            client.close()


class _Listed(ZapcatError):
    """A response-data error printed with every problem."""

    code = ResponseDataError.code

    def __init__(self, head: str, problems: tuple[str, ...] | list[str]) -> None:
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


def _write_tables(
    result: CalibrationResult, scores: Path | None, score_method: ScoreMethod, fit: Path | None
) -> None:
    """Write the person scores and the item-fit table, saying what is missing and why."""
    if scores is not None:
        table = result.scores(score_method.value)
        table.to_csv(scores)
        console.print(
            f"wrote {score_method.value.upper()} scores of {len(table)} persons to {scores}"
        )
        for note in table.attrs.get("notes", []):
            console.print(f"  note: {note}", highlight=False, markup=False)
    if fit is not None:
        table = result.item_fit()
        reasons = table.attrs.get("item_notes", {})
        table.insert(3, "sx2_note", [reasons.get(str(i), "") for i in table.index])
        table.to_csv(fit)
        console.print(f"wrote item fit to {fit}")
        for note in table.attrs.get("notes", []):
            console.print(f"  note: {note}", highlight=False, markup=False)


def _print_ways_forward(
    ctx: typer.Context, result: CalibrationResult, priors: list[str], dropped: list[str]
) -> None:
    """The command lines that take the flagged parameters: priors, or dropping the items."""
    from calibration.diagnostics import PRIOR_FOR
    from calibration.recode import split_ids

    named = {p.partition("=")[0].strip() for p in priors}
    wanted = [PRIOR_FOR[k] for k in ("a", "b") if k not in named]
    has = {c for c in result.params.columns if not c.endswith("_se")}
    wanted = [w for w in wanted if w[0] == "b" or "a" in has]
    lines = []
    if wanted:
        command = _command_line(ctx, {"prior": [*priors, *wanted]})
        lines.append(f"to refit with priors that take the flagged parameters:\n  {command}")
    flagged = list(dict.fromkeys(f.item_id for f in result.flags))
    command = _command_line(ctx, {"drop": [*split_ids(dropped), *flagged]})
    lines.append(f"or leave the flagged items out:\n  {command}")
    console.print("\n".join(lines), highlight=False, soft_wrap=True, markup=False)


def _with_way_out(message: str, model: str) -> str:
    """A refusal of items by their model, with the options that get past it."""
    if "do not fit their models" not in message:
        return message
    ids = re.findall(r"item '([^']+)'", message)
    drop = f"--drop {','.join(ids)}" if ids else "--drop ITEM"
    out = f"{message}\nway out: leave the items out ({drop})"
    if model.lower() == "rsm":
        out += (
            ", or calibrate with --model pcm (each item its own steps, any number of "
            "categories; the rating-scale model needs the same categories for every item)"
        )
    else:
        out += ", or give them another model with --item-models"
    return out


def _command_line(ctx: typer.Context, replace: dict[str, list[str]]) -> str:
    """The command line of this run with some list options replaced (shell-quoted)."""
    parts = ["zapcat", "calibrate"]
    for param in ctx.command.params:
        name = param.name or ""
        value = replace.get(name, ctx.params.get(name))
        if param.param_type_name == "argument":
            parts.append(str(value))
            continue
        if param.param_type_name != "option":
            continue
        if name in replace:
            values = list(dict.fromkeys(value or []))
            if values and name in ("drop", "reverse"):  # ITEM[,ITEM]
                parts += [param.opts[0], ",".join(values)]
            else:
                for v in values:
                    parts += [param.opts[0], v]
            continue
        if value is None or value == param.default or value in ([], ()):
            continue
        if getattr(param, "is_flag", False):
            parts.append(param.opts[0] if value else param.secondary_opts[0])  # type: ignore[attr-defined]
        elif isinstance(value, list | tuple):
            for v in value:
                parts += [param.opts[0], str(v)]
        else:
            parts += [param.opts[0], str(getattr(value, "value", value))]
    return shlex.join(parts)
