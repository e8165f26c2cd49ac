"""The fault matrix's smaller cases: bad encodings and shapes get a usage error that names the
file and line, and a failed command leaves earlier outputs as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from schema_rows import conform
from test_tasks import TABLES, _info

from pipeline import cli
from pipeline.compact import compact
from pipeline.core.keywords import KeywordError
from pipeline.core.recipes import RecipeError, parse_shorthand
from pipeline.core.sources import derived_video_id, safe_name
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.io.keyword_files import load_keyword_file
from pipeline.io.replay import read_replay
from pipeline.mix import mix

LATIN1 = "café – naïve\n".encode("latin-1", "replace")


def test_non_utf8_inputs_are_usage_errors(tmp_path: Path, capsys) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_bytes(b"http://127.0.0.1:9/a.mp4\n" + LATIN1)
    out = tmp_path / "out"
    assert cli.main(["annotate", "--urls", str(urls), "--out", str(out)]) == cli.EXIT_USAGE
    assert "not UTF-8" in capsys.readouterr().err
    keywords = tmp_path / "kw.yaml"
    keywords.write_bytes(b"keywords:\n  - " + LATIN1)
    assert cli.main(["annotate", "--keywords", str(keywords), "--out", str(out)]) == (
        cli.EXIT_USAGE
    )
    assert "cannot read keyword file" in capsys.readouterr().err
    assert not out.exists()  # a usage error leaves no folder (no _staging/LOCK)
    replay = tmp_path / "replay.jsonl"
    replay.write_bytes(LATIN1)
    with pytest.raises(RecipeError, match="UTF-8"):
        read_replay(str(replay))


def test_keyword_settings_are_type_checked(tmp_path: Path) -> None:
    f = tmp_path / "kw.yaml"
    f.write_text("keywords:\n  - {keyword: soup, results: many}\n")
    with pytest.raises(KeywordError, match=r"keyword 1: results must be int, got 'many'"):
        load_keyword_file(f)
    f.write_text("defaults: {exclude_live: 'no'}\nkeywords: [soup]\n")
    with pytest.raises(KeywordError, match="exclude_live must be bool"):
        load_keyword_file(f)


def test_replay_records_are_checked_with_their_line(tmp_path: Path) -> None:
    good = {
        "id": "a",
        "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
    }
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n{broken\n")
    with pytest.raises(RecipeError, match=r"r.jsonl line 4: not JSON"):
        read_replay(str(f))
    bad_role = {**good, "conversations": [{"from": "robot", "value": "hi"}]}
    f.write_text(json.dumps(good) + "\n" + json.dumps(bad_role) + "\n")
    with pytest.raises(RecipeError, match=r"line 2 turn 1: `from` must be one of"):
        read_replay(str(f))
    not_text = {**good, "conversations": [{"from": "human", "value": ["hi"]}]}
    f.write_text(json.dumps([good, not_text]))
    with pytest.raises(RecipeError, match=r"record 2 turn 1"):
        read_replay(str(f))
    f.write_text(json.dumps([good, good]))
    assert read_replay(str(f)) == [good, good]


def test_a_failed_mix_leaves_the_earlier_mixture(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    rows = build_video(_info(TABLES, "v1"), BuildConfig())
    for task in {r["task"] for r in rows}:
        part = samples / "samples" / f"task={task}" / "split=train"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if r["task"] == task], "samples"), part / "a.parquet"
        )
    out = tmp_path / "mix"
    mix(str(samples), parse_shorthand("R1 (2)"), str(out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RecipeError, match="needs 1000 samples"):
        mix(str(samples), parse_shorthand("RN11 (2000)"), str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_compact_removes_what_a_killed_compact_left(tmp_path: Path) -> None:
    rows = build_video(_info(TABLES, "v1"), BuildConfig())
    folder = tmp_path / "samples" / "task=rev"
    folder.mkdir(parents=True)
    pq.write_table(
        conform([r for r in rows if r["task"] == "rev"], "samples"), folder / "a.parquet"
    )
    (folder / "compact-x-00000-of-00001.parquet.tmp").write_bytes(b"half a file")
    compact(str(tmp_path))
    assert sorted(p.name for p in folder.iterdir()) == ["a.parquet"]


@pytest.mark.parametrize("name", ["-rf", "--output=x", "-", "--"])
def test_names_never_start_like_an_option(name: str) -> None:
    assert not safe_name(name).startswith("-")
    assert not derived_video_id(name, f"/media/{name}.mp4").startswith("-")


@pytest.mark.parametrize("rows_per_file", ["-1", "0"])
def test_compact_refuses_files_of_no_rows(tmp_path: Path, rows_per_file: str, capsys) -> None:
    """A file of -1 or 0 rows is a usage error, refused before OUT is touched (it emptied
    every table, or divided by zero)."""
    rows = build_video(_info(TABLES, "v1"), BuildConfig())
    folder = tmp_path / "samples" / "task=rev"
    folder.mkdir(parents=True)
    for name in ("a.parquet", "b.parquet"):
        pq.write_table(conform([r for r in rows if r["task"] == "rev"], "samples"), folder / name)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    argv = ["compact", str(tmp_path), "--rows-per-file", rows_per_file]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "--rows-per-file must be a whole number of at least 1" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_file_name_that_is_not_utf8_is_one_failures_row(tmp_path: Path) -> None:
    """A file name with a Latin-1 byte in --media-dir: a failures row that says so (the bad
    byte shown as an escape), and the rest of the wave annotated and committed."""
    import os
    import shutil

    from pipeline import synthetic
    from pipeline.io.parquet import read_table

    media = tmp_path / "media"
    synthetic.make_video(
        synthetic.Spec("muted", (("testsrc2", 3000), ("smptebars", 3000)), audio=False), media
    )
    for truth in media.glob("*.truth.json"):
        truth.unlink()
    shutil.copyfile(media / "muted.mp4", os.fsdecode(bytes(media) + b"/caf\xe9.mp4"))
    out = tmp_path / "out"
    argv = ["annotate", "--media-dir", str(media), "--out", str(out), "--clip-model", "off"]
    assert cli.main(argv) == cli.EXIT_SOME_INPUTS_FAILED
    (failure,) = read_table(str(out), "failures").to_pylist()
    assert failure["stage"] == "download" and failure["reason"] == "file_name_not_utf8"
    assert failure["source_uri"].endswith("caf\\udce9.mp4") and "rename" in failure["message"]
    (video,) = read_table(str(out), "videos", ["video_id"]).to_pylist()
    assert video["video_id"].startswith("muted-")


def test_the_dataset_card_names_the_splits_the_build_has() -> None:
    """A build without a validation split: the card's comment says train and test only."""
    from pipeline.core.dataset_card import dataset_card

    card = dataset_card({"rev": ("train", "test"), "stop": ("train",)}, "b1")
    line = next(x for x in card.splitlines() if x.startswith("ds = load_dataset"))
    assert line.endswith("# train, test")
    assert "validation" not in card


def test_a_misspelt_flag_is_refused_with_the_closest_one(tmp_path: Path, capsys) -> None:
    """`--asr-modle tiny` ran with the default model and exit 0: now exit 2, the flag and
    the one meant named, nothing created; build too."""
    out = tmp_path / "out"
    media = tmp_path / "media"
    media.mkdir()
    argv = ["annotate", "--media-dir", str(media), "--out", str(out), "--asr-modle", "tiny"]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown option --asr-modle (did you mean --asr-model?)" in err
    assert not out.exists()
    assert cli.main(["build", "--out", str(out), "--polcy", "none"]) == cli.EXIT_USAGE
    assert "--polcy (did you mean --policy?)" in capsys.readouterr().err


def test_non_utf8_blocklist_recipe_and_workflow_files_are_named(tmp_path: Path, capsys) -> None:
    """A Latin-1 blocklist, recipe or workflow file: exit 2 naming the file (it was a
    UnicodeDecodeError traceback that named none)."""
    media = tmp_path / "media"
    media.mkdir()
    out = tmp_path / "out"
    cases = {
        "blocklist.txt": ["annotate", "--media-dir", str(media), "--out", str(out)],
        "recipe.yaml": ["mix", "--samples", str(tmp_path), "--out", str(tmp_path / "mix")],
        "preset.yaml": ["annotate", "--media-dir", str(media), "--out", str(out)],
    }
    flags = {"blocklist.txt": "--blocklist", "recipe.yaml": "--recipe", "preset.yaml": "--workflow"}
    for name, argv in cases.items():
        bad = tmp_path / name
        bad.write_bytes(b"name: " + LATIN1)
        assert cli.main([*argv, flags[name], str(bad)]) == cli.EXIT_USAGE, name
        err = capsys.readouterr().err
        assert str(bad) in err and "utf-8" in err.lower(), err
    assert not out.exists()


def _every_text(out: Path) -> str:
    """Every file under OUT as text: Parquet tables row by row (their pages are compressed,
    so the bytes would hide a secret from a plain grep), the rest as bytes."""
    import pyarrow.parquet as pq

    parts = []
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        if f.suffix == ".parquet":
            parts.append(repr(pq.read_table(f).to_pylist()))
        else:
            parts.append(f.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_no_planted_secret_reaches_any_output_file(tmp_path: Path, monkeypatch) -> None:
    """The API key, a proxy's password, a password in the VLM URL and a yt-dlp password:
    none reaches OUT (runs records, failures rows, anything), not even the start of the key
    where a server's refusal was cut, nor the Basic form of the URL's password, although
    the test server echoes the Authorization header in a 200 page and in a long 400."""
    import base64

    from fake_vllm import serve_fake_vllm

    from pipeline import synthetic

    key = "sk-planted-key-0123456789abcdef"
    monkeypatch.setenv("PLANTED_KEY", key)
    media = tmp_path / "media"
    synthetic.make_video(
        synthetic.Spec("muted", (("testsrc2", 3000), ("smptebars", 3000)), audio=False), media
    )
    for truth in media.glob("*.truth.json"):
        truth.unlink()
    out = tmp_path / "out"
    secrets = ["proxy-pass-77", "url-pass-88", "ytdlp-pass-99", key]
    script = ["echo_auth_200_page", "echo_auth_400_long"] * 4
    with serve_fake_vllm(model="m", script=script) as (url, _):
        common = [
            *("annotate", "--media-dir", str(media), "--out", str(out), "--clip-model", "off"),
            *("--vlm-model", "m", "--vlm-retries", "0", "--force"),
            *("--proxy", "http://bob:proxy-pass-77@127.0.0.1:9"),
            *("--ytdlp-option", 'password="ytdlp-pass-99"'),
        ]
        keyed = [*common, "--vlm-base-url", url, "--vlm-api-key-env", "PLANTED_KEY"]
        assert cli.main(keyed) == cli.EXIT_SOME_INPUTS_FAILED
        with_userinfo = url.replace("http://", "http://bob:url-pass-88@")
        assert cli.main([*common, "--vlm-base-url", with_userinfo]) == (cli.EXIT_SOME_INPUTS_FAILED)
    text = _every_text(out)
    assert "Signed in as" in text or "not a chat completion" in text  # the echo was stored
    for secret in [*secrets, key[:12], base64.b64encode(b"bob:url-pass-88").decode()[:12]]:
        assert secret not in text, secret
    assert "***" in text


@pytest.mark.slow
def test_split_by_channel_uses_the_split_fractions(tmp_path: Path) -> None:
    """`--split-by channel` used the default 5 % / 5 % whatever --val-fraction and
    --test-fraction said: with both 0 every sample is train; with most in test, most are."""
    from schema_rows import write_annotations
    from test_tasks import TABLES

    from pipeline.io.parquet import read_table

    out = write_annotations(tmp_path / "out", TABLES)
    splits = {}
    for name, val, test in (("none", "0", "0"), ("most", "0", "0.99")):
        argv = ["build", "--annotations", str(out), "--out", str(tmp_path / name)]
        argv += ["--split-by", "channel", "--val-fraction", val, "--test-fraction", test]
        assert cli.main(argv) == cli.EXIT_OK
        splits[name] = read_table(str(tmp_path / name), "samples", ["split"])["split"].to_pylist()
    assert splits["none"] and set(splits["none"]) == {"train"}
    assert splits["most"].count("test") > len(splits["most"]) / 2
    argv = ["build", "--annotations", str(out), "--out", str(tmp_path / "bad")]
    assert cli.main([*argv, "--split-by", "channel", "--test-fraction", "1"]) == cli.EXIT_USAGE


def test_eval_and_compare_refuse_an_out_that_is_a_file(tmp_path: Path, capsys) -> None:
    """`--out` naming an existing file: exit 2, the file as it was (export: test_exports)."""
    out = tmp_path / "report.txt"
    out.write_text("mine")
    samples, predictions = tmp_path / "samples", tmp_path / "p.jsonl"
    samples.mkdir()
    predictions.write_text("")
    argv = ["eval", "--samples", str(samples), "--predictions", str(predictions)]
    for args in ([*argv, "--out", str(out)], ["eval", "compare", str(samples), "--out", str(out)]):
        assert cli.main(args) == cli.EXIT_USAGE
        assert "is a file, not a folder" in capsys.readouterr().err
    assert out.read_text() == "mine"
