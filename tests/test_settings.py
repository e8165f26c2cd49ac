"""Stage configs are the one source of their flags, defaults and content hash: the options
parsed from no flags give each config's own defaults, every flag reaches its field, and only
content settings move the hash."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pipeline.build import BuildOptions, build_config
from pipeline.core.settings import flags
from pipeline.core.tasks import BuildConfig
from pipeline.io.ytdlp import Blocklist
from pipeline.options import STAGE_CONFIGS, AnnotateOptions, stage_configs

CONFIGS = (*STAGE_CONFIGS.values(), BuildConfig)


def test_no_flags_give_every_config_its_own_defaults() -> None:
    configs = stage_configs(AnnotateOptions([]))
    assert list(STAGE_CONFIGS) == [
        *("asr", "segmenter", "download", "frames", "scenes", "inspect", "clip", "vlm")
    ]
    for name in STAGE_CONFIGS:
        config = getattr(configs, name)
        assert config == type(config)(), name


def test_each_flag_reaches_its_field(tmp_path) -> None:
    blocklist = tmp_path / "block.txt"
    blocklist.write_text("video:abc\nchannel:UCchannel\n")
    configs = stage_configs(
        AnnotateOptions(
            [
                "--asr-model",
                "tiny",
                "--asr_batch_size",
                "3",
                "--sat-threshold",
                "0.4",
                "--no-download-archive",
                "--ytdlp-option",
                "a=1",
                "--ytdlp-option",
                "b=x",
                "--blocklist",
                str(blocklist),
                "--download-timeout-s",
                "9",
                "--frame-fps",
                "2",
                "--max-clip-ms",
                "7000",
                "--clip-model",
                "off",
                "--vlm-serve",
                "--vlm-concurrency",
                "3",
                "--inspect-keyframes",
                "0",
            ]
        )
    )
    assert (configs.asr.model, configs.asr.batch_size) == ("tiny", 3)
    assert configs.segmenter.threshold == 0.4
    assert configs.download.archive is False and configs.download.deadline_s == 9.0
    assert configs.download.extra == (("a", 1), ("b", "x"))
    assert configs.download.blocklist == Blocklist(frozenset({"abc"}), frozenset({"UCchannel"}))
    assert configs.frames.fps == 2.0 and configs.scenes.max_clip_ms == 7000
    assert configs.clip.model == "off" and configs.vlm.serve and configs.vlm.concurrency == 3
    assert not configs.inspect.enabled


def test_flag_names_are_unique_and_dests_follow_them() -> None:
    dests = [spec.dest for config in CONFIGS for _, spec in flags(config)]
    assert len(dests) == len(set(dests))
    assert all(
        spec.dest == spec.name.replace("-", "_") for config in CONFIGS for _, spec in flags(config)
    )


@pytest.mark.parametrize(
    ("argv", "moves"),
    [
        (["--asr-batch-size", "16"], False),
        (["--asr-threads", "4"], False),
        (["--vlm-concurrency", "2"], False),
        (["--vlm-base-url", "http://h/v1"], False),
        (["--inspect-keyframes", "0"], False),
        (["--download-retries", "0"], False),
        (["--sleep-interval", "5"], False),
        (["--proxy", "http://proxy:3128"], False),
        (["--download-format", "worst"], True),  # other media
        (["--ytdlp-option", 'format_sort=["res:360"]'], True),
        (["--reference-subtitles", "en"], True),
        (["--asr-model", "tiny"], True),
        (["--frame-fps", "2"], True),
        (["--vlm-prompt", "clip-caption-brief-v1"], True),
        (["--cut-threshold", "0.5"], True),
    ],
)
def test_only_content_settings_move_the_hash(argv: list[str], moves: bool) -> None:
    base = stage_configs(AnnotateOptions([])).content_hash()
    assert (stage_configs(AnnotateOptions(argv)).content_hash() != base) is moves


def test_every_field_is_either_flagged_or_fixed() -> None:
    """A field without a flag is a fixed setting with a default (no hidden required field)."""
    for config in CONFIGS:
        for f in fields(config):
            assert f.metadata.get("flag") or f.default is not f.default_factory, f.name


def test_build_flags_come_from_build_config_fields() -> None:
    """build's config is declared like the stages': each field's flag reaches it, and no
    flags give the field defaults."""
    assert build_config(BuildOptions([])) == BuildConfig()
    argv = ["--sample-fps", "30000/1001", "--seed", "7", "--sample-min-clip-ms", "500"]
    argv += ["--rev-query-position", "inline", "--pair-template", "seed"]
    config = build_config(BuildOptions(argv))
    assert (config.sample_fps.numerator, config.sample_fps.denominator) == (30000, 1001)
    assert (config.seed, config.min_clip_ms) == (7, 500)
    assert (config.rev_query_position, config.pair_template) == ("inline", "seed")
