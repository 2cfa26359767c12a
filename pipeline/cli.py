"""The ``pipeline`` command line."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from pipeline.data import DataError, resolve_data_dir
from pipeline.data.location import default_data_dir
from pipeline.recognize.weights_file import WeightsError

DATA_HELP = "data directory laid out as ../shared/data (mnist/, usps/, orand-car-a-dev/); default $PIPELINE_DATA"


class _Errors(click.Group):
    """Turn the project's expected errors into one clear line and exit status 2, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # click's own flow (--help, usage errors): not ours to reword
        except (DataError, WeightsError, RuntimeError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Errors)
@click.version_option(package_name="lenet-batch-reader")
def main() -> None:
    """Read handwritten cheque amounts and ZIP codes with LeNet-5."""


@main.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help=DATA_HELP)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/lenet5"), show_default=True)
@click.option("--epochs", type=int, default=None, help="default: the recipe's")
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--target-error", type=float, default=None, help="error rate the rejection threshold is set for")
@click.option("--limit", type=int, default=None, help="train on only this many digits (smoke runs)")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
@click.option("--resume", is_flag=True, help="continue from OUT/checkpoint.pt")
@click.option(
    "--init-from",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="start from these weights (fine-tuning) instead of random ones",
)
@click.option("--deslant/--no-deslant", default=None, help="deslant digits in the shared normalisation")
@click.option(
    "--repeat",
    "repeats",
    multiple=True,
    metavar="SOURCE=N",
    help="times each source's digits appear per epoch, e.g. --repeat orand=25",
)
@click.option("--orand-copies", type=click.IntRange(min=0), default=None,
              help="more cuts of each ORAND training digit, with jittered boxes (default: the recipe's)")
@click.option("--orand-jitter", type=click.FloatRange(min=0.0, max=0.45), default=None,
              help="how far each side of such a box may move, as a share of its size")
@click.option(
    "--finetune",
    "finetune_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="fine-tune on reviewer-corrected digits (from `pipeline export-corrections`): starts from the shipped "
    "weights (or --init-from), 3 epochs at a lower rate, mixed with DATA's digits when there is a data directory",
)
@click.option("--no-progress", is_flag=True, help="no progress bar (logs only)")
def train(data_dir, out_dir, epochs, batch_size, lr, seed, target_error, limit, device, threads, resume, init_from,
          deslant, repeats, orand_copies, orand_jitter, finetune_dir, no_progress):  # fmt: skip
    """Train LeNet-5 on MNIST + USPS + ORAND train digits, calibrate it, write OUT/lenet5.pt."""
    import torch

    from pipeline.recognize.train import TrainConfig, resolve_device
    from pipeline.recognize.train import train as run_training

    if threads:
        torch.set_num_threads(threads)
    config = TrainConfig()
    for name, value in [("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("seed", seed),
                        ("target_error", target_error), ("limit", limit), ("init_from", init_from),
                        ("orand_copies", orand_copies), ("orand_jitter", orand_jitter)]:  # fmt: skip
        if value is not None:
            setattr(config, name, value)
    if deslant is not None:
        config.normalization = dataclasses.replace(config.normalization, deslant=deslant)
    data = resolve_data_dir(data_dir) if data_dir or not finetune_dir else default_data_dir()
    if finetune_dir:
        _finetune_defaults(config, finetune_dir, init_from, epochs, lr, deslant)
        if data is None:
            click.echo("no data directory: fine-tuning on the corrections alone, which can make the network forget "
                       "other writing; give --data DIR (or $PIPELINE_DATA) to mix them with the usual digits",
                       err=True)  # fmt: skip
    for item in repeats:
        source, _, count = item.partition("=")
        if source not in config.repeats or not count.isdigit():
            raise click.BadParameter(f"{item!r}: expected SOURCE=N with SOURCE in {sorted(config.repeats)}")
        config.repeats[source] = int(count)
    path = run_training(
        config,
        data,
        out_dir,
        resolve_device(device),
        resume=resume,
        progress=not no_progress,
    )
    click.echo(f"wrote {path}")


def _finetune_defaults(config, finetune_dir: Path, init_from, epochs, lr, deslant) -> None:
    """Fine-tuning: the parent's weights, architecture and normalisation (so inference still matches), and a short,
    gentle schedule unless given."""
    from pipeline.recognize.weights import SHIPPED_WEIGHTS, load_weights

    parent = load_weights(Path(init_from) if init_from else SHIPPED_WEIGHTS)
    config.init_from = str(parent.path)
    config.finetune = str(finetune_dir)
    config.model = dict(parent.model.config)
    config.normalization = parent.normalization
    if deslant is not None:
        config.normalization = dataclasses.replace(config.normalization, deslant=deslant)
    config.epochs = epochs if epochs is not None else 3
    config.lr = lr if lr is not None else 5e-4
    config.ema_decay = 0.99  # few steps: a slower average would hardly move from the parent


@main.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help=DATA_HELP)
@click.option("--weights", type=click.Path(path_type=Path), default=None, help="default: the shipped weights")
@click.option("--sets", default="mnist,usps,orand", show_default=True, help="comma-separated: mnist, usps, orand")
@click.option("--target-error", type=float, default=None, help="re-derive the threshold for this error rate")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None)
def evaluate(data_dir, weights, sets, target_error, device, json_path, plot_path):
    """Error rate, error-reject curve and confusion matrix on MNIST test, USPS test and ORAND val."""
    from pipeline.recognize.classifier import DigitClassifier
    from pipeline.recognize.evaluate import evaluate as run_evaluation
    from pipeline.recognize.evaluate import format_report, write_json, write_plot

    names = tuple(s.strip() for s in sets.split(",") if s.strip())
    classifier = DigitClassifier(weights, device=device, target_error=target_error)
    results = run_evaluation(classifier, resolve_data_dir(data_dir), names)
    click.echo(f"weights {classifier.weights_path} (sha256 {classifier.weights_sha256[:12]}), "
               f"threshold {classifier.threshold:.5f} for target error {classifier.target_error}")  # fmt: skip
    click.echo(format_report(results))
    if json_path:
        write_json(results, json_path, classifier)
        click.echo(f"wrote {json_path}")
    if plot_path:
        write_plot(results, plot_path)
        click.echo(f"wrote {plot_path}")


@main.command()
@click.argument("weights", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target-error", type=float, required=True, help="errors among all validation digits, e.g. 0.002")
def calibrate(weights: Path, target_error: float) -> None:
    """Store a new rejection threshold in WEIGHTS, chosen on its validation scores for TARGET_ERROR."""
    from pipeline.recognize.weights import set_target_error

    threshold = set_target_error(weights, target_error)
    click.echo(f"{weights}: threshold {threshold:.6f} for target error {target_error}")


@main.command()
@click.argument("digits_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@click.option("--weights", type=click.Path(path_type=Path), default=None, help="default: the shipped weights")
@click.option("--target-error", type=float, default=None)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def digits(digits_dir, out_dir, weights, target_error, device):
    """Classify a folder of single-digit images; with a labels.csv beside them, also score the answers.

    This is the recognizer on its own; whole documents get their own flow.
    """
    from pipeline.recognize.digit_folder import classify_folder

    summary = classify_folder(digits_dir, out_dir, weights=weights, target_error=target_error, device=device)
    click.echo(json.dumps(summary, indent=2))


@main.command("download-mnist")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="where mnist/ goes")
def download_mnist_command(data_dir: Path) -> None:
    """Download MNIST from the standard mirrors into DATA/mnist (md5-checked)."""
    from pipeline.data.mnist import download_mnist

    written = download_mnist(data_dir / "mnist")
    click.echo(f"{len(written)} file(s) downloaded into {data_dir / 'mnist'}")


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--cheques", type=click.IntRange(min=0), default=12, show_default=True)
@click.option("--envelopes", type=click.IntRange(min=0), default=12, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--bad",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="also write this many bad files (truncated, text as .png, empty, wrong extension, 1x1, bomb)",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="write with MNIST test + USPS test from this data directory (default: the bundled MNIST subset)",
)
@click.option("--formats", default=None, help="comma-separated subset of: jpeg, png, tiff, tiff-g4, tiff-multi")
@click.option(
    "--contact-sheet",
    "sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write a contact sheet PNG of what was made",
)
@click.option("--no-progress", is_flag=True)
def samples(out_dir, cheques, envelopes, seed, bad, data_dir, formats, sheet, no_progress):
    """Generate synthetic scanned cheques and envelopes with exact ground truth in OUT/truth.jsonl."""
    from pipeline.synth.generate import generate_samples

    chosen = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    try:
        summary = generate_samples(
            out_dir, cheques, envelopes, seed=seed, bad=bad, data_dir=data_dir, formats=chosen, progress=not no_progress
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if sheet:
        from pipeline.synth.contact import contact_sheet

        contact_sheet(out_dir, sheet)
    click.echo(json.dumps(summary.as_dict(), indent=2))
    if summary.stale:
        click.echo(f"warning: {len(summary.stale)} file(s) in {out_dir} are from an earlier run and have no truth "
                   f"now (e.g. {summary.stale[0]}); use an empty folder", err=True)  # fmt: skip


@main.command()
@click.option("--truth", "truth_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--results", "results_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the full report as JSON here ('-' for stdout instead of the table)",
)
@click.option("--by", "group_by", multiple=True, help="also break down by a truth style key: format, scan.mode, dpi")
def score(truth_path, results_path, json_path, group_by):
    """Score results.jsonl against truth.jsonl: read, error and reject rates per kind and overall."""
    from pipeline.score import ScoreError, format_table, score_files

    try:
        report = score_files(truth_path, results_path, tuple(group_by))
    except ScoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    text = json.dumps(report, indent=2)
    if str(json_path) == "-":
        click.echo(text)
        return
    click.echo(format_table(report))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n")
        click.echo(f"wrote {json_path}")


def _register_flow_commands() -> None:
    """``run`` and ``serve`` live with the flows; Prefect itself is imported only when they run."""
    from pipeline.flows.commands import run_command, serve_command

    main.add_command(run_command)
    main.add_command(serve_command)


def _register_review_commands() -> None:
    """``review`` and ``export-corrections``: the page for rejected fields and what it feeds back."""
    from pipeline.review.commands import export_corrections_command, review_command

    main.add_command(review_command)
    main.add_command(export_corrections_command)


_register_flow_commands()
_register_review_commands()

if __name__ == "__main__":
    main()
