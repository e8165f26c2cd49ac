"""Keyword files, search parsing and filters (recorded yt-dlp output), the offline search
failure, error reasons, and download retries against a scripted loopback server."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import apache_beam as beam
import pytest
import yaml
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from media_server import scripted_server

from pipeline.core.keywords import KeywordError, KeywordSpec, SearchSettings
from pipeline.core.search import full_info_rejection, hits, merge_hits, search_query
from pipeline.core.ytdlp_errors import classify
from pipeline.io.keyword_files import load_keywords
from pipeline.io.ytdlp import (
    ARCHIVE,
    Blocklist,
    DownloadConfig,
    DownloadFailed,
    Skipped,
    download,
    load_blocklist,
    video_id_for,
)
from pipeline.records import Source
from pipeline.stages.acquire import AcquireVideos
from pipeline.stages.search import SearchVideos, search_source

KEYWORDS = Path(__file__).resolve().parents[1] / "keywords"


def test_shipped_keywords() -> None:
    specs = load_keywords([str(KEYWORDS)])
    assert len(specs) >= 100
    categories = {s.category for s in specs}
    assert len(categories) >= 10 and {"cooking", "repair_diy", "fitness"} <= categories
    assert len({s.keyword.lower() for s in specs}) == len(specs)
    first = next(s for s in specs if s.category == "cooking")
    assert first.settings.results == 30 and first.settings.exclude_shorts
    assert any(s.settings.creative_commons for s in specs)
    assert search_query(first) == f"ytsearch30:{first.keyword}"


def test_bad_keyword_files(tmp_path: Path) -> None:
    f = tmp_path / "k.yaml"
    f.write_text("keywords: [{keyword: soup, results: 0}]\n")
    with pytest.raises(KeywordError, match="results per keyword"):
        load_keywords([str(f)])
    f.write_text("keywords: [{keyword: soup, colour: red}]\n")
    with pytest.raises(KeywordError, match="unknown settings"):
        load_keywords([str(f)])
    f.write_text("defaults: {uploaded_after: 2024}\nkeywords: [soup]\n")
    with pytest.raises(KeywordError, match="YYYYMMDD"):
        load_keywords([str(f)])


def _spec(keyword: str, **settings) -> KeywordSpec:
    return KeywordSpec(keyword, "music", SearchSettings(**settings))


def test_flat_results_are_filtered_and_merged(youtube_fixtures: Path) -> None:
    result = json.loads((youtube_fixtures / "flat_search.json").read_text())
    kept, dropped = hits(result, _spec("ost", min_duration_s=100, max_duration_s=250))
    # durations 115, 180, 83, 297 s: 83 is too short, 297 too long
    assert [h.video_id for h in kept] == ["Je8iIWgavh4", "nvQNUxoN8gw"]
    assert dropped == {"too_short": 1, "too_long": 1}
    assert kept[0].url == "https://www.youtube.com/watch?v=Je8iIWgavh4"
    assert kept[0].channel_id == "UCQtGAW6DyhZOzblV7XPnVLA"
    other, _ = hits(result, _spec("march", min_duration_s=60))
    url, keywords, categories = merge_hits("Je8iIWgavh4", [kept[0], other[0]])
    assert url == kept[0].url
    assert keywords == ("march", "ost") and categories == ("music",)
    shorts, dropped = hits(result, _spec("x", min_duration_s=None, max_duration_s=None))
    assert len(shorts) == 4 and not dropped
    assert hits({"entries": [None, {"id": None}]}, _spec("x"))[1] == {"empty_entry": 2}


def test_full_info_filters(youtube_fixtures: Path) -> None:
    info = json.loads((youtube_fixtures / "video_info.json").read_text())
    assert full_info_rejection(info, SearchSettings()) == "short"  # a YouTube Short
    loose = SearchSettings(exclude_shorts=False, min_duration_s=None, language=None)
    assert full_info_rejection(info, loose) is None
    assert (
        full_info_rejection(
            info, SearchSettings(exclude_shorts=False, min_duration_s=None, language="en")
        )
        == "language"
    )
    assert full_info_rejection(
        info, SearchSettings(exclude_shorts=False, min_duration_s=None, creative_commons=True)
    ) == ("not_creative_commons")
    assert full_info_rejection(
        info, SearchSettings(exclude_shorts=False, min_duration_s=None, uploaded_after="20250101")
    ) == ("uploaded_too_early")


def test_search_pipeline_dedups_blocks_and_fails_offline(
    youtube_fixtures: Path, monkeypatch
) -> None:
    """The real ytsearch call fails offline (a failures row); recorded results drive the
    rest through the same DoFn."""
    result = json.loads((youtube_fixtures / "flat_search.json").read_text())
    specs = [_spec("ost"), _spec("march"), _spec("offline search")]

    import yt_dlp

    real = yt_dlp.YoutubeDL.extract_info

    def recorded(self, url, download=True, **kw):
        if url.endswith(":offline search"):
            return real(self, url, download=download, **kw)  # no network: DownloadError
        return result

    monkeypatch.setattr(yt_dlp.YoutubeDL, "extract_info", recorded)
    blocklist = Blocklist(channels=frozenset({"UC6PshCd-mkeSGNfNO0yWlGg"}))
    with TestPipeline() as p:
        videos, failures = (
            p
            | beam.Create([search_source(s) for s in specs])
            | SearchVideos(blocklist, max_videos=2)
        )
        assert_that(
            videos | "V" >> beam.Map(lambda s: (s.uri.split("=")[1], s.keywords)),
            equal_to([("Je8iIWgavh4", ("march", "ost")), ("M0_Zvp59TaA", ("march", "ost"))]),
            label="videos",
        )
        assert_that(
            failures | "F" >> beam.Map(lambda f: (f.stage, f.source_uri, f.error_type)),
            equal_to([("search", "ytsearch20:offline search", "SearchFailed")]),
            label="failures",
        )


ERROR_CASES = {
    "bot_check": ("bot_check", True),
    "private_video": ("private", False),
    "video_unavailable": ("unavailable", False),
    "removed_terms_of_service": ("removed_terms_of_service", False),
    "removed_by_uploader": ("removed_by_uploader", False),
    "account_terminated": ("account_terminated", False),
    "http_429_too_many_requests": ("http_429", True),
    "http_403_forbidden": ("http_403", True),
    "members_only": ("members_only", False),
    "age_restricted": ("age_restricted", False),
    "geo_restricted": ("geo_restricted", False),
}


def test_every_recorded_error_gets_its_reason(youtube_fixtures: Path) -> None:
    errors = json.loads((youtube_fixtures / "errors.json").read_text())
    assert len(errors) == 21
    for e in errors:
        got = classify(e["message"])
        if e["case"] == "http_403_forbidden_fragment":
            assert got in {("http_403", True), ("empty_download", True)}, e["message"]
        else:
            assert got == ERROR_CASES[e["case"]], (e["case"], e["message"], got)
    assert classify("something nobody has seen") == ("other", False)


@pytest.fixture
def media(corpus, tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    for name in ("kitchen", "flaky", "forbidden", "gone", "broken", "slow", "garden"):
        shutil.copy(corpus[0] / "quiet.mp4", root / f"{name}.mp4")
    return root


def _config(**kw) -> DownloadConfig:
    return DownloadConfig(retries=2, backoff_s=0.01, socket_timeout_s=1.0, **kw)


def test_transient_errors_are_retried_permanent_ones_are_not(media: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    sleeps: list[float] = []
    with scripted_server(media, stall_s=2.5) as (base, script):
        script.plan("/flaky.mp4", "429", "500")
        script.plan("/forbidden.mp4", *["403"] * 10)
        script.plan("/gone.mp4", *["404"] * 10)
        script.plan("/broken.mp4", *["500"] * 10)
        script.plan("/slow.mp4", "stall")
        got = download(Source(f"{base}/flaky.mp4", "url"), store, _config(), sleeps.append)
        assert Path(got.path).is_file() and len(sleeps) == 2
        outcomes = {}
        for name in ("forbidden", "gone", "broken"):
            with pytest.raises(DownloadFailed) as info:
                download(Source(f"{base}/{name}.mp4", "url"), store, _config(), sleeps.append)
            outcomes[name] = (info.value.reason, info.value.attempts)
        slow = download(Source(f"{base}/slow.mp4", "url"), store, _config(), sleeps.append)
        assert Path(slow.path).is_file()
    assert outcomes == {
        "forbidden": ("http_403", 3),
        "gone": ("http_404", 1),
        "broken": ("http_5xx", 3),
    }
    assert script.requests["/gone.mp4"] == 1
    assert script.requests["/forbidden.mp4"] == 3 and script.requests["/broken.mp4"] == 3
    assert sleeps[2] < sleeps[3]  # exponential backoff


def test_archive_and_store_prevent_a_second_download(media: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with scripted_server(media) as (base, script):
        first = download(Source(f"{base}/kitchen.mp4", "url"), store, _config())
        stamp = Path(first.path).stat().st_mtime_ns
        requests = script.requests["/kitchen.mp4"]
        again = download(Source(f"{base}/kitchen.mp4", "url"), store, _config())
        assert again.path == first.path and Path(again.path).stat().st_mtime_ns == stamp
        assert script.requests["/kitchen.mp4"] < 2 * requests  # no second media transfer
        assert (store / ARCHIVE).read_text() == "generic kitchen\n"  # yt-dlp's own record
        Path(first.path).unlink()
        with pytest.raises(DownloadFailed, match="archived_missing"):
            download(Source(f"{base}/kitchen.mp4", "url"), store, _config())


def test_a_truncated_download_is_retried(media: Path, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with scripted_server(media) as (base, script):
        script.plan("/garden.mp4", "200", "truncate")
        got = download(Source(f"{base}/garden.mp4", "url"), tmp_path, _config(), sleeps.append)
    assert Path(got.path).read_bytes() == (media / "garden.mp4").read_bytes()
    assert len(sleeps) == 1  # one retry after the short read
    assert classify("ERROR: [download] Got error: 1000 bytes read, 2000 more expected") == (
        "truncated",
        True,
    )


@pytest.mark.timeout(120)
def test_a_dripping_server_meets_the_download_deadline(media: Path, tmp_path: Path) -> None:
    """One byte every 0.2 s never trips yt-dlp's socket timeout: the deadline ends the
    source as a failures row, and the healthy source of the same wave comes through."""
    with scripted_server(media, drip_s=60) as (base, script):
        script.plan("/garden.mp4", "200", *["drip"] * 10)
        with pytest.raises(DownloadFailed) as info:
            download(Source(f"{base}/garden.mp4", "url"), tmp_path / "a", _config(deadline_s=2))
        assert info.value.reason == "download_timeout" and info.value.attempts == 1
        assert "--download-timeout-s" in str(info.value)
        script.plan("/garden.mp4", "200", *["drip"] * 10)
        sources = [Source(f"{base}/kitchen.mp4", "url"), Source(f"{base}/garden.mp4", "url")]
        with TestPipeline() as p:
            videos, failures = (
                p | beam.Create(sources) | AcquireVideos(str(tmp_path / "m"), _config(deadline_s=3))
            )
            assert_that(
                videos | beam.Map(lambda v: v.media.video_id.split("-")[0]),
                equal_to(["kitchen"]),
                label="the healthy one",
            )
            assert_that(
                failures
                | beam.Map(
                    lambda f: (f.stage, f.message.split(":")[0], f.source_uri.rsplit("/", 1)[1])
                ),
                equal_to([("download", "download_timeout", "garden.mp4")]),
                label="the dripping one",
            )
    with pytest.raises(ValueError, match="deadline"):
        DownloadConfig(deadline_s=0)


def test_blocklist_holds(media: Path, tmp_path: Path) -> None:
    listed = tmp_path / "blocklist.txt"
    listed.write_text("# opt-outs\nvideo:kitchen\nchannel:UCQtGAW6DyhZOzblV7XPnVLA\nabc123\n")
    blocklist = load_blocklist(str(listed))
    assert blocklist.videos == {"kitchen", "abc123"}
    assert blocklist.reason("x", "UCQtGAW6DyhZOzblV7XPnVLA")
    with scripted_server(media) as (base, _):
        with pytest.raises(Skipped, match="blocked"):
            download(Source(f"{base}/kitchen.mp4", "url"), tmp_path, _config(blocklist=blocklist))
        sources = [Source(f"{base}/kitchen.mp4", "url"), Source(f"{base}/slow.mp4", "url")]
        with TestPipeline() as p:
            videos, failures = (
                p
                | beam.Create(sources)
                | AcquireVideos(str(tmp_path / "m"), _config(blocklist=blocklist))
            )
            assert_that(
                videos | beam.Map(lambda v: v.media.video_id.split("-")[0]),
                equal_to(["slow"]),
                label="only the unblocked one",
            )
            assert_that(failures, equal_to([]), label="blocked is not a failure")
    assert not list((tmp_path / "m").glob("kitchen*"))


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "x'; rm -rf $HOME; '", "a/b\\c", "..", "$(reboot)", "`id`"]
)
def test_ids_from_yt_dlp_cannot_leave_the_store(bad: str, tmp_path: Path) -> None:
    for extractor in ("Generic", "Youtube"):
        vid = video_id_for({"id": bad, "extractor_key": extractor}, "https://x/y")
        target = (tmp_path / f"{vid}.mp4").resolve()
        assert target.parent == tmp_path.resolve()
        assert not set(vid) & set("/\\'\"$`;() .")


@pytest.mark.slow
def test_keyword_annotate_offline_records_each_search_failure(tmp_path: Path) -> None:
    from pipeline import cli
    from pipeline.io.parquet import read_table

    status = cli.main(
        [
            "annotate",
            "--keywords",
            str(KEYWORDS / "fitness.yaml"),
            "--out",
            str(tmp_path),
            "--segmenter",
            "punctuation",
        ]
    )
    assert status == cli.EXIT_SOME_INPUTS_FAILED
    failed = read_table(str(tmp_path), "failures").to_pylist()
    assert len(failed) == len(load_keywords([str(KEYWORDS / "fitness.yaml")]))
    assert all(f["stage"] == "search" and f["source_uri"].startswith("ytsearch") for f in failed)
    assert (
        cli.main(["annotate", "--keywords", str(tmp_path / "none.yaml"), "--out", str(tmp_path)])
        == cli.EXIT_USAGE
    )


def test_reference_subtitles_text_and_wer(youtube_fixtures: Path) -> None:
    from pipeline.core.subtitles import vtt_text, word_error_rate
    from pipeline.io.ytdlp import _manual_subtitle_lang

    auto = vtt_text((youtube_fixtures / "subtitles_en.vtt").read_text())
    assert auto.startswith("lost another colony to Raiders let's make sure the next one")
    assert auto.count("lost another colony") == 1 and "<" not in auto and "-->" not in auto
    manual = vtt_text((youtube_fixtures / "subtitles_en.manual.vtt").read_text())
    assert manual.startswith("Hello everybody! This is Jack Askew from to fluency.com and in")
    assert "Kind:" not in manual and "00:00" not in manual
    assert word_error_rate("Hello there, my friend.", "hello there my fiend") == 0.25
    assert word_error_rate("", "anything") is None
    info = json.loads((youtube_fixtures / "video_info.json").read_text())
    assert _manual_subtitle_lang(info, "en") is None  # only automatic captions there
    assert (
        _manual_subtitle_lang(
            {"subtitles": {"de": [], "en-US": []}, "automatic_captions": {"en": []}}, "en"
        )
        == "en-US"
    )
    assert _manual_subtitle_lang({"subtitles": {"en": []}}, None) is None


def test_download_pace_is_shared_by_processes(tmp_path: Path) -> None:
    """Four processes take turns on one lock file: their starts are at least 0.3 s apart."""
    import subprocess
    import sys

    code = (
        "import sys, time; from pathlib import Path; from pipeline.io.pacing import "
        "wait_turn; wait_turn(Path(sys.argv[1]), 0.3); print(time.time())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "pace")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    starts = sorted(float(p.communicate()[0]) for p in procs)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.29, gaps


@pytest.mark.slow
def test_keywords_end_to_end_with_recorded_search(
    server: str, tmp_path: Path, monkeypatch, caplog
) -> None:
    """`annotate --keywords`: search results (recorded, pointing at the loopback server)
    -> download -> the rest of annotate; every keyword that found a video is on its row."""
    import yt_dlp

    from pipeline import cli
    from pipeline.io.parquet import read_table

    kw = tmp_path / "kitchen.yaml"
    kw.write_text(
        "category: cooking\ndefaults: {min_duration_s: 5, language: null, "
        "exclude_shorts: false}\n"
        "keywords: [tomato soup, chopping onions, bicycle oil]\n"
    )
    results = {
        "tomato soup": ["kitchen"],
        "chopping onions": ["kitchen", "quiet"],
        "bicycle oil": ["bicycle"],
    }
    real = yt_dlp.YoutubeDL.extract_info

    def recorded(self, url, download=True, **kw):
        if not url.startswith("ytsearch"):
            return real(self, url, download=download, **kw)
        query = url.split(":", 1)[1]
        return {
            "_type": "playlist",
            "entries": [
                {"_type": "url", "id": name, "url": f"{server}/{name}.mp4", "duration": 16.0}
                for name in results[query]
            ],
        }

    monkeypatch.setattr(yt_dlp.YoutubeDL, "extract_info", recorded)
    out = tmp_path / "out"
    # One video per wave: the searches run first, over the whole run, so duplicates still
    # merge across keywords and the cap holds for the run, not for each wave.
    assert (
        cli.main(
            [
                "annotate",
                "--keywords",
                str(kw),
                "--out",
                str(out),
                "--segmenter",
                "punctuation",
                "--clip-model",
                "off",
                "--max-videos",
                "2",
                "--wave-size",
                "1",
                "--run-id",
                "kw",
            ]
        )
        == cli.EXIT_OK
    )
    rows = {r["video_id"].split("-")[0]: r for r in read_table(str(out), "videos").to_pylist()}
    # capped at two videos, the first two URLs in order: bicycle and kitchen
    assert set(rows) == {"bicycle", "kitchen"}
    record = yaml.safe_load((out / "runs" / "kw.yaml").read_text())
    assert record["counts"]["waves"] == "2/2" and record["counters"]["search_hits"] == 4
    progress = [r.getMessage() for r in caplog.records if r.name == "pipeline.annotate"]
    assert any(m.startswith("wave 2/2 committed (1 sources)") for m in progress), progress
    assert rows["kitchen"]["keywords"] == ["chopping onions", "tomato soup"]
    assert rows["kitchen"]["categories"] == ["cooking"]
    assert read_table(str(out), "sentences").num_rows == 6


def test_cookies_pass_through_and_are_never_shown(media: Path, tmp_path: Path, caplog) -> None:
    import logging

    from pipeline.io.ytdlp import ydl_params

    secret = "SID\tsecret-cookie-value-7f3a"
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\t{secret}\n")
    config = _config(cookies_file=str(cookies), proxy=None)
    assert ydl_params(config)["cookiefile"] == str(cookies)
    assert "secret-cookie" not in repr(config)
    caplog.set_level(logging.DEBUG)
    with scripted_server(media) as (base, script):
        script.plan("/gone.mp4", "404")
        with pytest.raises(DownloadFailed) as info:
            download(Source(f"{base}/gone.mp4", "url"), tmp_path, config)
    assert "secret-cookie" not in str(info.value) and "secret-cookie" not in caplog.text
