"""The `ominous` command: annotate, validate, query."""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_INPUTS_FAILED = 3


def _annotate(argv: list[str]) -> int:
    from pipeline.core.sources import SourceError
    from pipeline.graph import UsageError, run

    try:
        summary = run(argv)
    except (UsageError, SourceError) as exc:
        print(f"ominous annotate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"run {summary.run_id}: {summary.sources} sources, {summary.skipped_done} already "
          f"done, {summary.videos} videos, {summary.sentences} sentences, "
          f"{summary.clips} clips, {summary.failures} failures -> {summary.out}")
    if summary.some_failed:
        print(f"some inputs failed: see the failures table (ominous query {summary.out} "
              "\"SELECT stage, source_uri, message FROM failures\")", file=sys.stderr)
        return EXIT_SOME_INPUTS_FAILED
    return EXIT_OK


def _build(argv: list[str]) -> int:
    from pipeline.build import BuildError, run

    try:
        summary = run(argv)
    except BuildError as exc:
        print(f"ominous build: {exc}", file=sys.stderr)
        return EXIT_USAGE
    total = sum(summary.samples.values())
    print(f"build {summary.run_id}: {summary.videos} videos -> {total} samples in "
          f"{summary.out}/samples")
    for task, n in summary.samples.items():
        print(f"  {task:20s} {n:7d}")
    if summary.filtered:
        print("  filtered by flag (a sample can carry several): " + ", ".join(
            f"{k} {v}" for k, v in sorted(summary.filtered.items())))
    return EXIT_OK


def _run_all(argv: list[str]) -> int:
    """annotate, then build from what annotate wrote (into the same --out)."""
    status = _annotate(argv)
    if status not in (EXIT_OK, EXIT_SOME_INPUTS_FAILED):
        return status
    built = _build(argv)
    return built if built != EXIT_OK else status


def _validate(args: argparse.Namespace) -> int:
    from pipeline.io.validate import validate

    counts, problems = validate(args.out)
    for table, n in counts.items():
        print(f"{table:10s} {n:8d} rows")
    for problem in problems:
        print(f"INVALID {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from pipeline.io.query import connect

    try:
        relation = connect(args.out).sql(args.sql)
    except duckdb.Error as exc:
        print(f"ominous query: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if relation is not None:
        relation.show(max_width=200, max_rows=args.max_rows)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="ominous", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("annotate", add_help=False,
                   help="search/download, transcribe and segment videos into OUT tables "
                        "(Beam options accepted; exit 3 when some inputs failed)")
    sub.add_parser("build", add_help=False,
                   help="build grounding and streaming samples from annotate's tables "
                        "(--annotations OUT --out SAMPLES [--seed N])")
    sub.add_parser("run", add_help=False, help="annotate, then build, into one --out")
    v = sub.add_parser("validate", help="check OUT's Parquet files against schemas/")
    v.add_argument("out")
    q = sub.add_parser("query", help="run DuckDB SQL with each table as a view")
    q.add_argument("out")
    q.add_argument("sql")
    q.add_argument("--max-rows", type=int, default=40)
    if argv and argv[0] in ("annotate", "build", "run"):
        command = argv[0]
        if "-h" in argv[1:] or "--help" in argv[1:]:
            from pipeline.build import BuildOptions
            from pipeline.options import AnnotateOptions, OutputOptions

            helper = argparse.ArgumentParser(prog=f"ominous {command}")
            phases = {"annotate": (AnnotateOptions,), "build": (BuildOptions,),
                      "run": (AnnotateOptions, BuildOptions)}[command]
            for options in (OutputOptions, *phases):
                group = helper.add_argument_group(options.__name__, conflict_handler="resolve")
                options._add_argparse_args(group)
            helper.print_help()
            return EXIT_OK
        return {"annotate": _annotate, "build": _build, "run": _run_all}[command](argv[1:])
    args = parser.parse_args(argv)
    return {"validate": _validate, "query": _query}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
