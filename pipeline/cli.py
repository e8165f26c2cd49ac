"""The `ominous` command: annotate and build (or run: both), mix, export, eval, experiment,
report, models, compact, validate and query."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from pipeline.errors import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_INPUTS_FAILED = 3


def _annotate(argv: list[str]) -> int:
    from pipeline.annotate import run

    summary = run(argv)
    print(
        f"run {summary.run_id}: {summary.sources} sources, {summary.skipped_done} already "
        f"done, {summary.videos} videos, {summary.sentences} sentences, "
        f"{summary.clips} clips, {summary.failures} failures -> {summary.out}"
    )
    _print_counters(summary.counters)
    if summary.some_failed:
        print(
            f"some inputs failed: see the failures table (ominous query {summary.out} "
            '"SELECT stage, source_uri, message FROM failures")',
            file=sys.stderr,
        )
        return EXIT_SOME_INPUTS_FAILED
    return EXIT_OK


def _build(argv: list[str]) -> int:
    from pipeline.build import run

    summary = run(argv)
    total = sum(summary.samples.values())
    print(
        f"build {summary.run_id}: {summary.videos} videos -> {total} samples in "
        f"{summary.out}/samples"
    )
    for task, n in summary.samples.items():
        print(f"  {task:20s} {n:7d}")
    if summary.filtered:
        print(
            "  filtered by flag (a sample can carry several): "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary.filtered.items()))
        )
    _print_counters(summary.counters)
    return EXIT_OK


def _print_counters(counters: dict[str, int]) -> None:
    """Every run ends with its Beam counters (they are in its runs record too)."""
    if counters:
        print("  counters: " + ", ".join(f"{k} {v}" for k, v in counters.items()))


def _run_all(argv: list[str]) -> int:
    """annotate, then build from what annotate wrote (into the same --out)."""
    # Beam parses argv with every PipelineOptions class imported so far: with BuildOptions
    # known, annotate does not warn that the build flags in argv are unparseable.
    from pipeline.build import BuildOptions  # noqa: F401

    status = _annotate(argv)
    if status not in (EXIT_OK, EXIT_SOME_INPUTS_FAILED):
        return status
    built = _build(argv)
    return built if built != EXIT_OK else status


def _mix(args: argparse.Namespace) -> int:
    from pipeline.io.recipe_files import load_recipe
    from pipeline.mix import mix

    summary = mix(
        args.samples,
        load_recipe(args.recipe),
        args.out,
        seed=args.seed,
        replay=args.replay,
        split=args.split,
        allow_repeat=args.allow_repeat,
        replay_root=args.replay_root,
    )
    total = sum(summary.counts.values())
    print(
        f"mix {summary.recipe}: {total} rows -> {summary.out} ("
        + ", ".join(f"{k} {v}" for k, v in summary.counts.items())
        + ")"
    )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from pipeline.export import export

    if args.format == "eval":
        return _export_eval(args)
    if args.format == "lmms-eval":
        return _export_lmms(args)
    if not args.mix:
        raise UsageError("--mix MIX is required (--samples only with --format eval)")
    summary = export(
        args.mix,
        args.format,
        args.out,
        annotations=args.annotations,
        video_root=args.video_root,
        reference=args.time_reference,
        decimals=args.decimals,
        commentary=args.livecc_commentary,
        noise_target=args.noise_target,
    )
    print(
        f"export {args.format}: {summary.samples} samples + {summary.replay} replay rows -> "
        + ", ".join(summary.files)
    )
    if summary.added:
        print("added: " + ", ".join(f"{k} {n}" for k, n in sorted(summary.added.items())))
    if summary.skipped:
        print(
            "not expressible in this format, left out: "
            + ", ".join(f"{task} {n}" for task, n in sorted(summary.skipped.items()))
        )
    if summary.video_folder:
        print(f"video paths are relative to --video_folder {summary.video_folder}")
    return EXIT_OK


def _export_eval(args: argparse.Namespace) -> int:
    from pipeline.evaluate import export_eval

    if not args.samples:
        raise UsageError("--format eval needs --samples SAMPLES")
    about = export_eval(
        args.samples,
        args.out,
        args.split,
        args.annotations,
        args.video_root,
        args.time_reference or "clip",
    )
    print(
        f"export eval: {about['samples']} {about['split']} samples -> {args.out}/"
        "eval_prompts.jsonl, eval_references.jsonl"
    )
    return EXIT_OK


def _export_lmms(args: argparse.Namespace) -> int:
    from pipeline.lmms_tasks import export_lmms_eval

    if not args.samples:
        raise UsageError("--format lmms-eval needs --samples SAMPLES")
    about = export_lmms_eval(args.samples, args.out, args.split, args.annotations, args.video_root)
    print(
        "export lmms-eval: "
        + ", ".join(f"{t} {n}" for t, n in about["tasks"].items())
        + f" -> {args.out}\nrun: python -m lmms_eval --model MODEL --tasks ominous "
        f"--include_path {args.out}"
    )
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from pipeline.evaluate import compare, evaluate

    if args.runs and args.runs[0] == "run":
        return _eval_run(args)
    if args.runs and args.runs[0] == "compare":
        if len(args.runs) < 2 or not args.out:
            raise UsageError("compare REPORT... --out DIR")
        png = compare(args.runs[1:], args.out)
        print((png.parent / "compare.md").read_text() + f"\n-> {png}")
        return EXIT_OK
    if args.runs or not (args.samples and args.predictions and args.out):
        raise UsageError(
            "--samples SAMPLES --predictions P.jsonl --out REPORT, or compare REPORT... --out DIR"
        )
    summary = evaluate(
        args.samples,
        args.predictions,
        args.out,
        args.split,
        args.name,
        args.time_reference,
        args.annotations,
        _buckets(args.buckets),
    )
    for task, s in summary.tasks.items():
        print(f"  {task:20s} {100 * s['score']:6.1f}  ({s['samples']} samples)")
    if summary.grounding:
        print(
            f"  {'grounding':20s} {100 * summary.grounding['score']:6.1f}  (R@1 IoU>=0.5, "
            f"{summary.grounding['samples']} text->span samples)"
        )
    for bucket, b in summary.buckets.items():
        shown = "-" if b is None else f"{100 * b['overall']:6.1f}  ({b['samples']} samples)"
        print(f"  {bucket:20s} {shown}")
    print(f"  {'overall':20s} {100 * summary.overall:6.1f}  -> {summary.out}/eval.json")
    for problem in summary.problems:
        print(f"predictions {problem}", file=sys.stderr)
    return EXIT_OK


def _eval_run(args: argparse.Namespace) -> int:
    from pipeline.predict import PredictError, ServerModel, ShowSettings, run

    if (
        len(args.runs) != 1
        or not args.prompts
        or not args.out
        or (bool(args.model_url) == bool(args.model_path))
    ):
        raise UsageError(
            "eval run --prompts EVAL --out PREDICTIONS.jsonl, and either "
            "--model-url URL --model NAME or --model-path DIR"
        )
    settings = ShowSettings(args.fps, args.max_frames, args.image_size, 85, args.max_tokens)
    if args.model_url:
        if not args.model:
            raise PredictError("--model-url needs --model NAME (the name the server serves)")
        model: Any = ServerModel(
            args.model_url,
            args.model,
            settings,
            args.api_key_env,
            args.request_timeout_s,
            args.retries,
            concurrency=args.concurrency,
        )
    else:
        from pipeline.models.local_vlm import LocalQwen2VL

        model = LocalQwen2VL(args.model_path, settings, use_cache=not args.no_cache)
    try:
        summary = run(args.prompts, args.out, model, settings)
    finally:
        model.close()
    print(
        f"eval run: {summary.answered} samples answered, {summary.skipped_done} already "
        f"done, {summary.failed} failed -> {summary.out}"
    )
    if summary.failed:
        print(
            f"some samples failed: see {summary.failures}; run the same command again to "
            "retry them",
            file=sys.stderr,
        )
        return EXIT_SOME_INPUTS_FAILED
    return EXIT_OK


def _experiment(args: argparse.Namespace) -> int:
    from pipeline import experiment

    if args.action == "score":
        if not args.exp:
            raise UsageError("experiment score EXP")
        md, png = experiment.score(args.exp, args.predictions_name)
        print(md.read_text() + f"\n-> {md}, {png}")
        return EXIT_OK
    missing = [
        f"--{k.replace('_', '-')}"
        for k in ("experiment", "samples", "format", "out")
        if not getattr(args, k)
    ]
    if missing or args.exp:
        raise UsageError(
            "experiment plan --experiment FILE --samples SAMPLES --format FMT "
            "--out EXP [--replay FILE] [--scale F]"
            + (f" (missing {', '.join(missing)})" if missing else "")
        )
    summary = experiment.plan(
        args.experiment,
        args.samples,
        args.out,
        args.format,
        args.replay,
        args.scale,
        args.annotations,
        args.video_root,
        args.allow_repeat,
        args.noise_target,
        args.replay_root,
    )
    for arm, counts in summary.arms.items():
        drawn = ", ".join(f"{k} {v}" for k, v in counts.items()) or "baseline: no data"
        print(f"  {arm:20s} {drawn}")
    print(
        f"experiment: {len(summary.arms)} arms, {summary.eval_samples} shared eval prompts "
        f"-> {summary.out} (README.md says how to train each arm)"
    )
    return EXIT_OK


def _buckets(text: str | None) -> tuple[Any, ...]:
    from pipeline.core.evaluation import VIDEO_MME_BUCKETS, parse_buckets

    if text is None:
        return VIDEO_MME_BUCKETS
    try:
        return parse_buckets(text)
    except ValueError as exc:
        raise UsageError(f"--buckets: {exc}") from exc


def _report(args: argparse.Namespace) -> int:
    from pipeline.report import write_report

    page = write_report(args.out, args.samples, args.report)
    print(f"report -> {page}")
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    from pipeline.models.fetch import MODELS, use_cache

    only = tuple(args.only.split(",")) if args.only else MODELS
    unknown = set(only) - set(MODELS)
    if unknown:
        raise UsageError(f"unknown models {sorted(unknown)}; known: {MODELS}")
    use_cache(args.cache)
    from pipeline.models.fetch import fetch

    results = fetch(only)
    for name, outcome in results.items():
        print(f"{name:10s} {outcome}")
    return EXIT_FAILED if any(v.startswith("FAILED") for v in results.values()) else EXIT_OK


def _compact(args: argparse.Namespace) -> int:
    from pipeline.compact import compact

    summaries = compact(args.out, rows_per_file=args.rows_per_file)
    for r in summaries:
        print(
            f"{r.table:10s} {r.files_before:6d} files -> {r.files_after:4d}, {r.rows} rows"
            + (f", {r.duplicates_dropped} duplicates dropped" if r.duplicates_dropped else "")
        )
    return EXIT_OK


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

    from pipeline.io.queries import named_query
    from pipeline.io.query import connect

    sql = args.sql
    try:
        if sql.startswith("@"):
            sql = named_query(sql[1:], args.video)
        relation = connect(args.out).sql(sql)
    except duckdb.Error as exc:
        print(f"ominous query: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if relation is not None:
        relation.show(max_width=200, max_rows=args.max_rows)
    return EXIT_OK


def build_parser(width: int | None = None) -> argparse.ArgumentParser:
    """The command line (also read by pipeline.docs for the CLI reference)."""
    from pipeline.core.formats import FORMATS, PROMPT_FORMATS

    def fmt(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=width) if width else argparse.HelpFormatter(prog)

    parser = argparse.ArgumentParser(prog="ominous", description=__doc__, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)

    _sub(
        sub,
        fmt,
        "annotate",
        add_help=False,
        help="search/download, transcribe and segment videos into OUT tables "
        "(Beam options accepted; exit 3 when some inputs failed)",
    )
    _sub(
        sub,
        fmt,
        "build",
        add_help=False,
        help="build grounding and streaming samples from annotate's tables "
        "(--annotations OUT --out SAMPLES [--seed N])",
    )
    _sub(
        sub,
        fmt,
        "run",
        add_help=False,
        help="annotate, then build, into one --out "
        "(--workflow workflows/NAME.yaml: a preset; flags given here win)",
    )
    m = _sub(sub, fmt, "mix", help="draw a mixture from samples (+ replay) by a recipe")
    m.add_argument("--samples", required=True, help="build's --out")
    m.add_argument(
        "--recipe",
        required=True,
        help="shorthand like 'ORNS1111 (10k)' or '+10k-noise', or a YAML file",
    )
    m.add_argument("--replay", default=None, help="LLaVA/LongVA JSON or JSONL (component O)")
    m.add_argument(
        "--replay-root",
        default=None,
        help="folder the replay's relative media paths start from (default: the replay "
        "file's folder); they are written absolute, and one that is no file is an error",
    )
    m.add_argument("--out", required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--split", default="train")
    m.add_argument(
        "--allow-repeat",
        action="store_true",
        help="draw with repetition when a component has too few samples",
    )
    e = _sub(
        sub,
        fmt,
        "export",
        help="write a mixture in a trainer's format, a split's "
        "eval prompts (--format eval --samples SAMPLES), or an "
        "lmms-eval task folder (--format lmms-eval)",
    )
    e.add_argument("--mix", default=None)
    e.add_argument("--format", required=True, choices=[*FORMATS, *PROMPT_FORMATS])
    e.add_argument("--samples", default=None, help="build's --out, for --format eval and lmms-eval")
    e.add_argument("--split", default="test", help="the split --format eval writes")
    e.add_argument("--out", required=True)
    e.add_argument(
        "--annotations",
        default=None,
        help="annotate's OUT: media paths (OUT/media, wherever OUT now is) and durations",
    )
    e.add_argument(
        "--video-root",
        default=None,
        help="the folder that holds the media files (wins over --annotations)",
    )
    e.add_argument(
        "--time-reference",
        default=None,
        choices=["clip", "video"],
        help="times relative to the sample's window or the whole video (default: "
        "clip where the trainer shows the window, video where it shows the "
        "whole video)",
    )
    e.add_argument("--decimals", type=int, default=1)
    e.add_argument(
        "--noise-target",
        default="marker",
        choices=["marker", "end"],
        help="what noise (a remark that asks nothing) learns: the template's "
        "begin-of-turn token then its end token, as the founding notes' "
        "<|im_start|><|im_end|> (marker), or the end token alone, as stop (end)",
    )
    e.add_argument(
        "--livecc-commentary",
        action="store_true",
        help="livecc: also each narration window's own speech, word-timed from "
        "the sentences, as LiveCC commentary records (needs --annotations)",
    )
    ev = _sub(
        sub,
        fmt,
        "eval",
        help="score predictions on a split, task by task; "
        "`eval compare REPORT... --out DIR`; or `eval run`: a "
        "model answers the eval prompts (exit 3: some failed)",
    )
    ev.add_argument("runs", nargs="*", help="compare REPORT..., or run")
    ev.add_argument(
        "--prompts",
        default=None,
        help="run: EVAL (export --format eval's folder) or its eval_prompts.jsonl",
    )
    ev.add_argument(
        "--model-url",
        default=None,
        help="run: an OpenAI-compatible server's base URL (vLLM: .../v1)",
    )
    ev.add_argument("--model", default=None, help="run: the model name the server serves")
    ev.add_argument(
        "--model-path", default=None, help="run: a local Hugging Face Qwen2-VL checkpoint folder"
    )
    ev.add_argument("--fps", type=float, default=2.0, help="run: frames shown per second")
    ev.add_argument(
        "--max-frames",
        type=int,
        default=32,
        help="run: at most this many frames in one request (the latest)",
    )
    ev.add_argument("--image-size", type=int, default=448, help="run: long side of a frame")
    ev.add_argument("--max-tokens", type=int, default=128, help="run: tokens per reply")
    ev.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="run: samples in flight at once (server back end)",
    )
    ev.add_argument(
        "--request-timeout-s",
        type=float,
        default=120.0,
        help="run: deadline of one whole request, reading the answer included",
    )
    ev.add_argument("--retries", type=int, default=4, help="run: retries of a transient error")
    ev.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="run: environment variable holding the server's API key",
    )
    ev.add_argument(
        "--no-cache",
        action="store_true",
        help="run --model-path: encode the whole context at every streaming step "
        "(slow; for comparison)",
    )
    ev.add_argument("--samples", default=None)
    ev.add_argument("--predictions", default=None, help="JSONL (see pipeline/evaluate.py)")
    ev.add_argument("--out", default=None)
    ev.add_argument("--split", default="test")
    ev.add_argument("--name", default=None, help="the run's name in compare tables")
    ev.add_argument(
        "--time-reference",
        default="clip",
        choices=["clip", "video"],
        help="the timeline the predictions' times are on: the window's (clip, as "
        "the default eval prompts give them) or the whole video's (video)",
    )
    ev.add_argument(
        "--annotations",
        default=None,
        help="annotate's OUT, for video durations (default: the one build "
        "recorded in SAMPLES/build.yaml, when it is still there)",
    )
    ev.add_argument(
        "--buckets",
        default=None,
        help="duration buckets, NAME:LOW-HIGH seconds, comma-separated (default "
        "Video-MME's: short:0-120,medium:240-900,long:1800-3600)",
    )
    x = _sub(
        sub,
        fmt,
        "experiment",
        help="plan every mixture arm of an experiment file "
        "(mixtures, exports, one shared eval set, training commands), or "
        "score their predictions as one table",
    )
    x.add_argument("action", choices=["plan", "score"])
    x.add_argument("exp", nargs="?", default=None, help="score: the planned EXP folder")
    x.add_argument(
        "--experiment",
        default=None,
        help="plan: arms by recipe (workflows/experiments/seed-replay.yaml)",
    )
    x.add_argument("--samples", default=None, help="plan: build's --out")
    x.add_argument("--replay", default=None, help="plan: LLaVA/LongVA JSON or JSONL")
    x.add_argument(
        "--replay-root", default=None, help="plan: where the replay's relative media paths start"
    )
    x.add_argument(
        "--format", default=None, choices=list(FORMATS), help="plan: the trainer's format"
    )
    x.add_argument("--out", default=None, help="plan: a new EXP folder")
    x.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="plan: shrink every arm (and a +Nk arm's whole replay set) by this "
        "factor, e.g. 0.01 for a small build",
    )
    x.add_argument("--annotations", default=None, help="plan: annotate's OUT (media, durations)")
    x.add_argument("--video-root", default=None, help="plan: the folder holding the media")
    x.add_argument("--allow-repeat", action="store_true", help="plan: passed to mix")
    x.add_argument(
        "--noise-target", default="marker", choices=["marker", "end"], help="plan: passed to export"
    )
    x.add_argument(
        "--predictions-name",
        default="predictions.jsonl",
        help="score: each arm's predictions file in its folder",
    )
    r = _sub(sub, fmt, "report", help="an HTML page with plots of a dataset")
    r.add_argument("out", help="annotate's OUT")
    r.add_argument("--samples", default=None, help="build's --out (default: OUT)")
    r.add_argument("--report", default=None, help="where to write (default OUT/report)")
    mo = _sub(
        sub,
        fmt,
        "models",
        help="models fetch --cache DIR: download every default "
        "model once (for worker images; then run with HF_HUB_OFFLINE=1)",
    )
    mo.add_argument("action", choices=["fetch"])
    mo.add_argument("--cache", required=True)
    mo.add_argument(
        "--only", default=None, help="comma-separated: asr,align,segmenter,clip,whisper-base"
    )
    c = _sub(
        sub,
        fmt,
        "compact",
        help="merge each table's small shards into large ones "
        "(row groups sized for DuckDB; duplicate ids dropped)",
    )
    c.add_argument("out")
    c.add_argument("--rows-per-file", type=int, default=5_000_000)
    v = _sub(sub, fmt, "validate", help="check OUT's Parquet files against schemas/")
    v.add_argument("out")
    q = _sub(sub, fmt, "query", help="run DuckDB SQL with each table as a view")
    q.add_argument("out")
    q.add_argument(
        "sql",
        help="SQL, or @name of a stored query (@samples-per-task, "
        "@timeline VIDEO_ID, @failures-by-reason, @hours-by-split, ...)",
    )
    q.add_argument("video", nargs="?", default=None, help="video id for @timeline")
    q.add_argument("--max-rows", type=int, default=40)
    return parser


def _sub(sub: Any, fmt: Any, name: str, **kw: Any) -> argparse.ArgumentParser:
    return sub.add_parser(name, formatter_class=fmt, **kw)


def phase_help(command: str, width: int | None = None) -> str:
    """Help for annotate, build or run: their own options (Beam's are accepted too)."""
    from pipeline.build import BuildOptions
    from pipeline.options import AnnotateOptions, OutputOptions

    helper = argparse.ArgumentParser(
        prog=f"ominous {command}",
        formatter_class=(lambda prog: argparse.HelpFormatter(prog, width=width))
        if width
        else argparse.HelpFormatter,
    )
    phases = {
        "annotate": (AnnotateOptions,),
        "build": (BuildOptions,),
        "run": (AnnotateOptions, BuildOptions),
    }[command]
    for options in (OutputOptions, *phases):
        group = helper.add_argument_group(options.__name__, conflict_handler="resolve")
        options._add_argparse_args(group)
    return helper.format_help()


class _NoBigQueryWarning(logging.Filter):
    """Beam warns on import, on every run, that its BigQuery client libraries are missing;
    nothing here uses BigQuery, so the line is noise in a user's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Our own progress (sources planned, each wave committed, models loaded); Beam's stays quiet.
    logging.getLogger("pipeline").setLevel(logging.INFO)
    if not any(isinstance(f, _NoBigQueryWarning) for f in logging.getLogger().filters):
        logging.getLogger().addFilter(_NoBigQueryWarning())
    parser = build_parser()
    if argv and argv[0] in ("annotate", "build", "run"):
        command = argv[0]
        if "-h" in argv[1:] or "--help" in argv[1:]:
            print(phase_help(command), end="")
            return EXIT_OK
        from pipeline.workflows import expand

        try:
            return {"annotate": _annotate, "build": _build, "run": _run_all}[command](
                expand(argv[1:])
            )
        except UsageError as exc:
            print(f"ominous {command}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        return {
            "validate": _validate,
            "query": _query,
            "mix": _mix,
            "export": _export,
            "eval": _eval,
            "experiment": _experiment,
            "report": _report,
            "models": _models,
            "compact": _compact,
        }[args.command](args)
    except UsageError as exc:
        print(f"ominous {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
