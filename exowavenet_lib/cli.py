"""The ``exowavenet`` command line."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exowavenet_lib import __version__


def _parameter(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"-p expects NAME=VALUE with NAME a Python identifier, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string
    return name, value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _build_exercises(args: argparse.Namespace) -> int:
    from exowavenet_lib.curriculum.exercises import MarkerError, build

    try:
        stale = build(args.root, check=args.check)
    except (MarkerError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {os.path.relpath(path, args.root)}")
    if args.check and stale:
        print("exercises/ is out of date with solutions/: run `exowavenet build-exercises` (or `make exercises`).",
              file=sys.stderr)
        return 1
    if args.check:
        print("exercises/ and all generated files are up to date.")
    return 0


def _run(args: argparse.Namespace) -> int:
    from papermill import PapermillExecutionError

    from exowavenet_lib.curriculum.execute import run_notebook
    from exowavenet_lib.curriculum.render import render_html, write_index

    notebooks = sorted(Path("solutions").glob("*.ipynb")) if args.all else args.notebooks
    if not notebooks or (args.all and args.notebooks):
        print("error: name the NOTEBOOKs to run, or give --all for every notebook in solutions/", file=sys.stderr)
        return 2
    failed = rendered = 0
    for path in notebooks:
        executed = args.output_dir / path.parent.name / path.name
        try:
            out = run_notebook(path, output_dir=args.output_dir, smoke=args.smoke,
                               parameters=dict(args.parameters), timeout=args.timeout)
        except (PapermillExecutionError, ValueError) as err:
            failed += 1
            print(f"FAILED {path}: {str(err).strip().splitlines()[0] if str(err).strip() else err!r}", file=sys.stderr)
            if isinstance(err, PapermillExecutionError) and executed.is_file():
                render_html(executed)  # the page shows where it failed
                rendered += 1
            continue
        print(f"ok     {path} -> {out} (+ {render_html(out).name})")
        rendered += 1
    if rendered:
        print(f"index: {write_index(args.output_dir)}")
    return 1 if failed else 0


def _grade(args: argparse.Namespace) -> int:
    from exowavenet_lib.curriculum.grade import run_cli

    return run_cli(args)


def _bench(args: argparse.Namespace) -> int:
    import json

    if args.target == "notebooks":
        from exowavenet_lib.bench.notebooks import bench_notebooks

        paths = args.notebooks or sorted(Path("solutions").glob("*.ipynb"))
        report = bench_notebooks(paths, smoke=args.smoke, repeats=args.repeats, output_dir=args.output_dir)
    elif args.target == "classifier":
        from exowavenet_lib.bench.classifier import SMOKE_PARAMETERS, bench_classifier

        report = bench_classifier(seed=args.seed, output_dir=args.output_dir,
                                  parameters=SMOKE_PARAMETERS if args.smoke else None)
    elif args.target == "transit":
        from exowavenet_lib.bench.transit import bench_transit

        report = bench_transit(seed=args.seed, output_dir=args.output_dir, smoke=args.smoke)
    else:
        from exowavenet_lib.bench.simulator import bench_simulator

        report = bench_simulator(seed=args.seed, output_dir=args.output_dir)
    print(json.dumps(report, indent=2))
    print(f"wrote {args.target} report and plots under {args.output_dir}", file=sys.stderr)
    return 0


def _classify(args: argparse.Namespace) -> int:
    import json

    from exowavenet_lib.ztf.classifier import classify_files

    report, status = classify_files(args.files, model=args.model)
    print(json.dumps(report, indent=2))
    return status


def _detect(args: argparse.Namespace) -> int:
    import json

    from exowavenet_lib.transit.detector import detect_files

    report, status = detect_files(args.files, model=args.model, threshold=args.threshold)
    print(json.dumps(report, indent=2))
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="exowavenet",
        description="ExoWaveNet curriculum tools: build exercises from solutions, run, grade and benchmark notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"exowavenet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = sub.add_parser("build-exercises", help="regenerate exercises/ (and links, README map) from solutions/")
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 if any generated file is stale")
    build.add_argument("--root", type=Path, default=Path("."), help="repository root (default: current folder)")
    build.set_defaults(func=_build_exercises)

    run = sub.add_parser("run", help="execute notebooks with papermill; executed copies and HTML go under build/")
    run.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK")
    run.add_argument("--all", action="store_true", help="run every notebook in solutions/ (and write build/index.html)")
    run.add_argument("--smoke", action="store_true", help="small, fast run (sets EXOWAVENET_SMOKE=1)")
    run.add_argument("-p", "--parameter", dest="parameters", action="append", type=_parameter, default=[],
                     metavar="NAME=VALUE", help="override a variable of the notebook's `parameters` cell")
    run.add_argument("--output-dir", type=Path, default=Path("build"))
    run.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell (default: none)")
    run.set_defaults(func=_run)

    grade = sub.add_parser(
        "grade", help="grade a folder of learner notebooks: score table (CSV) and report with feedback",
        epilog="exit status: 0 every notebook was graded; 1 some could not be run normally (unreadable, wrong "
        "exercise, timeout, crashed kernel) but all were scored and reported; 2 usage error. "
        "See docs/INSTRUCTORS.md.")
    grade.add_argument("folder", type=Path, metavar="DIR", help="folder of learner .ipynb files (searched recursively)")
    grade.add_argument("--exercise", required=True, metavar="NN", help="notebook number, e.g. 01")
    grade.add_argument("--timeout", type=_positive_float, default=600.0,
                       help="seconds for all the cells of one notebook together (default: 600)")
    grade.add_argument("--check-timeout", type=_positive_float, default=30.0,
                       help="seconds for each check the grader runs (default: 30)")
    grade.add_argument("--jobs", type=_positive_int, default=1, help="notebooks graded at once (default: 1)")
    grade.add_argument("--smoke", action="store_true", help="run the notebooks with EXOWAVENET_SMOKE=1")
    grade.add_argument("--report", type=Path, default=None,
                       help="report file, Markdown or .html; the CSV table goes beside it (default: grades-exNN.md)")
    grade.set_defaults(func=_grade)

    bench = sub.add_parser("bench", help="measure and report figures (JSON + plots); nothing is asserted")
    bench.add_argument("target", choices=["notebooks", "simulator", "classifier", "transit"],
                       help="notebooks: wall time of each solution notebook; simulator: realism and speed of the "
                       "simulators against astro-facts.md; classifier: notebook 08's imbalanced 5-class set-up "
                       "(test macro-F1, TDE recall, wall time); transit: ExoWaveNet against BLS (injection-recovery) "
                       "and inference speed")
    bench.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK",
                       help="notebooks only; default: solutions/*.ipynb")
    bench.add_argument("--seed", type=int, default=0, help="simulator and classifier: random seed")
    bench.add_argument("--smoke", action="store_true",
                       help="time the smoke (CI) configuration (notebooks, classifier, transit)")
    bench.add_argument("--repeats", type=_positive_int, default=3, help="runs per notebook; the median is reported")
    bench.add_argument("--output-dir", type=Path, default=Path("benchmarks/results"))
    bench.set_defaults(func=_bench)

    classify = sub.add_parser("classify", help="final-project ZTF transient classifier on alert CSV files -> JSON")
    classify.add_argument("files", nargs="+", type=Path, metavar="FILE",
                          help="CSV of ZTF alert detections (oid/objectId, mjd or jd, fid, magpsf, sigmapsf)")
    classify.add_argument("--model", default=None, metavar="NAME|PATH",
                          help="shipped model name or checkpoint path (default: the shipped ZTF classifier)")
    classify.set_defaults(func=_classify)

    detect = sub.add_parser("detect", help="ExoWaveNet transit detector on .fits/.csv/.npz light curves -> JSON")
    detect.add_argument("files", nargs="+", type=Path, metavar="FILE")
    detect.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="shipped model name or checkpoint path (default: exowavenet-kepler-small)")
    detect.add_argument("--threshold", type=float, default=None, help="window score for a detection (default: model's)")
    detect.set_defaults(func=_detect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exowavenet`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
