"""Presets in workflows/: every key is a known option, flags win, and the Flink and Dataflow
presets construct the annotate graph (without running it)."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest

from pipeline import cli
from pipeline.annotate import _plan, construct, construct_search
from pipeline.build import BuildOptions
from pipeline.options import AnnotateOptions
from pipeline.workflows import WorkflowError, expand

PRESETS = sorted((Path(__file__).resolve().parents[1] / "workflows").glob("*.yaml"))


def test_the_presets_exist() -> None:
    assert {p.stem for p in PRESETS} >= {"local", "local-parallel", "dataflow", "flink"}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_parses_into_options(preset: Path) -> None:
    flags = expand(["--workflow", str(preset)])
    assert flags and all(f.startswith("--") for f in flags)
    annotate = AnnotateOptions(flags)
    BuildOptions(flags)
    runner = annotate.view_as(beam.options.pipeline_options.StandardOptions).runner
    assert runner in {"DirectRunner", "DataflowRunner", "FlinkRunner"}


def test_flags_given_win_and_unknown_keys_are_refused(tmp_path: Path, capsys) -> None:
    local = next(p for p in PRESETS if p.stem == "local")
    opts = AnnotateOptions(expand(["--workflow", str(local), "--vlm-model", "mine"]))
    assert opts.vlm_model == "mine" and opts.segmenter == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text("runner: DirectRunner\nasr_modle: tiny\n")
    with pytest.raises(WorkflowError, match="unknown options \\['asr_modle'\\]"):
        expand(["--workflow", str(bad)])
    assert cli.main(["annotate", "--workflow", str(bad), "--out", str(tmp_path)]) == (
        cli.EXIT_USAGE
    )
    assert "asr_modle" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["flink", "dataflow"])
def test_cluster_presets_construct_the_graph(name: str, tmp_path: Path, corpus) -> None:
    preset = next(p for p in PRESETS if p.stem == name)
    media = tmp_path / "in"
    media.mkdir()
    (media / "quiet.mp4").write_bytes((corpus[0] / "quiet.mp4").read_bytes())
    # Placeholders replaced, as a user would; outputs local so nothing is reached.
    argv = expand(
        [
            "--workflow",
            str(preset),
            "--media-dir",
            str(media),
            "--out",
            str(tmp_path / "out"),
            "--media-store",
            str(tmp_path / "m"),
            "--project",
            "ominous-test",
            "--temp_location",
            "gs://ominous-test/tmp",
            "--staging_location",
            "gs://ominous-test/staging",
        ]
    )
    plan = _plan(argv)
    pipeline = beam.Pipeline(options=plan.opts)
    assert (
        type(pipeline.runner).__name__
        == {"flink": "FlinkRunner", "dataflow": "DataflowRunner"}[name]
    )
    construct(pipeline, plan, "r-w00000")
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    for stage in (
        "AcquireVideos",
        "TranscribeSpeech",
        "SampleFrames",
        "CaptionClips",
        "WriteVideos",
        "WriteFailures",
    ):
        assert stage in names
    # a keyword run starts with its search pipeline, built on the same runner
    searches = beam.Pipeline(options=plan.opts)
    construct_search(searches, plan, "r-search")
    names = {t.unique_name for t in searches.to_runner_api().components.transforms.values()}
    assert {"SearchVideos", "WriteFound", "WriteFailures"} <= names
