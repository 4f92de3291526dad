"""The `emotrace` command: `predict` traces for any recording with trained systems, `show` the results' tables,
`config` the merged configuration a run will use, `check` a corpus before a run.

Exit status: 0 when everything succeeded, 1 when some input file (or, for `show`, the
results) failed, 2 for usage errors and models that cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from emotrace.errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    top = argparse.ArgumentParser(prog="emotrace", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = sub.add_parser(
        "predict",
        help="arousal/valence traces (40 ms step) for audio files with one or more trained systems",
        description="Write <out>/<stem>.csv (time and one column per dimension, or per system and dimension "
                    "with several systems: <model>_<objective>_<dimension>) for every recording; recordings of "
                    "any length, rate and channel count are processed in 6 s tiles. Existing outputs are "
                    "never replaced without --force.",
    )
    predict.add_argument("inputs", nargs="+", metavar="AUDIO_OR_FOLDER",
                         help="audio files (WAV, FLAC, ...) or folders searched for them")
    predict.add_argument("--model", required=True, type=Path, action="append", metavar="MODEL",
                         help="a model.pt (network or SVR), a trained-model folder "
                              "results/<corpus>/train/<model>/<objective>/<target>/seed<N>, or a folder searched "
                              "for them (results/<corpus>/train); repeat for several systems")
    predict.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default: predictions)")
    predict.add_argument("--force", action="store_true", help="replace outputs that exist already")
    predict.add_argument("--plot", action="store_true", help="also write <stem>.png: the traces over the waveform")
    predict.add_argument("--dimensions", nargs="+", metavar="DIM", help="dimensions to predict (default: all each model has; a model with none of them is left out)")
    predict.add_argument("--no-postprocess", action="store_true", help="write the raw model outputs")
    predict.add_argument("--postprocess-settings", type=Path, metavar="FILE",
                         help="settings.json to use instead of the one the pipeline wrote for the model")
    predict.add_argument("--batch-size", type=_positive_int, default=16,
                         help="6 s segments per forward pass; bounds memory (default: 16)")
    predict.add_argument("--device", default="auto", metavar="DEVICE",
                         help="auto (cuda when available, else cpu), cpu, cuda or cuda:N (default: auto)")
    predict.add_argument("--ssl-checkpoint", type=Path, metavar="FILE",
                         help="SSL models (ssl_*): the frozen model's weights, instead of the path stored at training")
    predict.add_argument("--plugin", action="append", default=[], metavar="FILE_OR_MODULE",
                         help="plug-in networks: the .py file or package.module defining the class a model.pt records "
                              "(never imported from a path stored in the model); may be given several times")

    show = sub.add_parser("show", help="print the papers' tables, the findings and the run cost found under a "
                                       "results folder, and where outputs are")
    show.add_argument("results", type=Path, metavar="RESULTS_DIR",
                      help="results/ (every corpus) or results/<corpus> (one)")

    cfg = sub.add_parser("config", help="print the configuration a run will use (config files merged in order, "
                                        "--config overrides, schema defaults), or one key of it",
                         description="Merges the files as `snakemake --configfile A B --config k=v` does: "
                                     "config.yaml when no file is named.")
    cfg.add_argument("key", nargs="?", help="a dotted key, e.g. corpus.name (default: the whole config as YAML)")
    cfg.add_argument("--configfile", nargs="+", default=[], type=Path, metavar="FILE",
                     help="experiment config files, later ones overriding earlier ones (default: config.yaml)")
    cfg.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                     help="overrides on top, as snakemake's --config")
    from emotrace.check import add_arguments as add_check  # `emotrace check` (its own module)

    add_check(sub)
    return top


def _error(message: str) -> None:
    tqdm.write(f"error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    tqdm.write(f"warning: {message}", file=sys.stderr)


def predict_command(args: argparse.Namespace) -> int:
    """Predict every input with every system; a bad file is reported and skipped, the others are still processed."""
    import torch

    from emotrace.inference import (
        audio_inputs,
        check_device,
        describe_training,
        plot_traces,
        short_clip_warning,
        summary,
        write_trace_csv,
    )
    from emotrace.predict_many import find_model_files, load_systems, output_paths, predict_systems

    if args.no_postprocess and args.postprocess_settings is not None:
        _error("--no-postprocess and --postprocess-settings exclude each other")
        return EXIT_USAGE
    files, failures = audio_inputs(args.inputs)
    existing = [] if args.force else [p for p in output_paths(files, args.out, args.plot) if p.exists()]
    if existing:
        shown = ", ".join(map(str, existing[:5])) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        _error(f"{shown} {'exists' if len(existing) == 1 else 'exist'} already; predict does not overwrite outputs: pass --force to replace them, "
               "or choose another --out")
        return EXIT_USAGE
    try:
        device = check_device(args.device)
        model_files, notes = find_model_files(args.model)
        systems, left_out = load_systems(model_files, args.dimensions, args.postprocess_settings,
                                         not args.no_postprocess, args.batch_size, device, args.ssl_checkpoint,
                                         args.plugin)
    except InputError as err:
        _error(str(err))
        return EXIT_USAGE
    for note in notes + left_out:
        _warn(note)
    warnings = []
    for system in systems:
        for member in system.members:
            trained = member.predictor.trained
            prefix = f"system {system.name}: " if len(systems) > 1 else ""
            print(f"{prefix}model {trained.name} ({', '.join(member.predictor.dimensions)}) from {member.path} "
                  f"on {device}; {member.note}")
            trained_on, warning = describe_training(trained)
            print(f"  {trained_on}")
            if trained.origin:  # a plug-in network: where its code came from
                (_warn if trained.origin_changed else print)(f"  {trained.origin}")
            warnings += [warning] if warning and warning not in warnings else []
    for warning in warnings:
        _warn(warning)

    for err in failures:
        _error(str(err))
    batch_size = args.batch_size
    outputs: dict[Path, Path] = {}
    done = 0
    for path in tqdm(files, desc="recordings", unit="file", disable=None if len(files) > 1 else True):
        csv = args.out / f"{path.stem}.csv"
        try:
            if csv in outputs:
                raise InputError(path, f"its output {csv} would overwrite that of {outputs[csv]}; rename one of them")
            prediction = predict_systems(systems, path, progress=True)
            write_trace_csv(prediction, csv)
            if args.plot:
                plot_traces(prediction, csv.with_suffix(".png"))
            outputs[csv] = path
        except InputError as err:
            failures.append(err)
            _error(str(err))
            continue
        except torch.OutOfMemoryError as err:
            failures.append(InputError(path, f"out of memory ({err})"))
            _error(f"{path}: out of memory; try a smaller --batch-size ({batch_size} now)")
            continue
        done += 1
        tqdm.write(f"{summary(prediction)} -> {csv}", file=sys.stdout)
        short = short_clip_warning(prediction)
        if short:
            _warn(short)
    print(f"{done} recording(s) written to {args.out}; {len(failures)} failed")
    return EXIT_OK if not failures else EXIT_FAILED


def show_command(args: argparse.Namespace) -> int:
    """Print every results/*/tables/*.md (tables first, then the findings), the run cost, and list the main outputs."""
    results: Path = args.results
    if (results / "tables").is_dir():  # one corpus's folder, results/<corpus>
        results, corpora = results.parent, results.name
    else:
        corpora = "*"
    pages = sorted(results.glob(f"{corpora}/tables/*.md"))
    if not pages:
        _error(f"no table found under {results}/*/tables/*.md yet; run the pipeline first (`make run`)")
        return EXIT_FAILED
    order = {"trigeorgis2016_table1.md": 0, "yang2018_table1.md": 1, "beyond_table.md": 2, "across_draws.md": 3,
             "findings.md": 5}
    tables = sorted(pages, key=lambda p: (str(p.parent), order.get(p.name, 4)))  # the papers' tables first
    for table in tables + sorted(results.glob(f"{corpora}/runcost/run_cost.md")):
        print(f"## {table}\n")
        print(table.read_text().rstrip() + "\n")
    print("## Outputs\n")
    for corpus in sorted({t.parent.parent for t in tables}):
        print(f"- {corpus.name}: tables in {corpus / 'tables'}")
        figures = sorted(p for p in (corpus / "figures").glob("*") if p.is_file())
        print(f"  figures: {corpus / 'figures'} ({len(figures)} files)" if figures else "  figures: none yet")
        for stage in ("train", "postprocess", "evaluate", "runcost"):
            if (corpus / stage).is_dir():
                print(f"  {stage}: {corpus / stage}")
        for kind, one in (("folds", "fold"), ("redraws", "draw")):  # split.folds / split.redraws
            if (corpus / kind).is_dir():
                print(f"  {kind}: {corpus / kind} (each {one}'s own run and tables under <{one}>/)")
    reports = sorted({*results.glob(f"{corpora}/report*"), *results.glob(f"{corpora}/*.html")}
                     | ({*results.glob("report*"), *results.glob("*.html")} if corpora == "*" else set()))
    print("- report: " + (", ".join(map(str, reports)) if reports else "none found under " + str(results)))
    return EXIT_OK


def config_command(args: argparse.Namespace) -> int:
    """Print the merged config (YAML) or one value of it; a bad file or key is an error naming it."""
    import yaml

    from emotrace import configuration

    try:
        config = configuration.load(args.configfile, args.overrides)
        value = configuration.lookup(config, args.key) if args.key else config
    except InputError as err:
        _error(str(err))
        return EXIT_USAGE
    print(value if isinstance(value, (str, int, float)) else yaml.safe_dump(value, sort_keys=False).rstrip())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `emotrace` console script; returns the exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help (0) and on usage errors (2)
        return int(exit_.code or 0)
    if args.command == "predict":
        return predict_command(args)
    if args.command == "config":
        return config_command(args)
    if args.command == "check":
        from emotrace.check import check_command

        return check_command(args)
    return show_command(args)


if __name__ == "__main__":
    sys.exit(main())
