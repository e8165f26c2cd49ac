from pathlib import Path

import pytest

from pipeline.core.sources import (
    SourceError,
    derived_video_id,
    safe_name,
    youtube_id,
)
from pipeline.io.media_store import import_local, store_path
from pipeline.io.source_lists import list_media_dir, read_url_list
from pipeline.records import Source


def test_url_list_skips_comments_blanks_and_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("# videos\nhttp://a/x.mp4\n\n  http://a/y.mp4  \nhttp://a/x.mp4\n")
    assert [s.uri for s in read_url_list(f)] == ["http://a/x.mp4", "http://a/y.mp4"]
    assert all(s.kind == "url" for s in read_url_list(f))


def test_url_list_rejects_non_urls_with_line_number(tmp_path: Path) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("http://a/x.mp4\nnot a url\n")
    with pytest.raises(SourceError, match=r"urls.txt:2: not a URL"):
        read_url_list(f)


def test_media_dir_lists_media_only_in_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b.mp4").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.MKV").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    names = [Path(s.uri).name for s in list_media_dir(tmp_path)]
    assert names == ["b.mp4", "a.MKV"]


@pytest.mark.parametrize("evil", ["../../etc/passwd", "a'b\"c;rm -rf $(x)", "..", "/abs/path"])
def test_names_cannot_escape_the_media_store(tmp_path: Path, evil: str) -> None:
    name = safe_name(evil)
    assert "/" not in name and ".." not in name and "'" not in name and "$" not in name
    path = store_path(tmp_path, evil, ".mp4/../../x")
    assert path.parent == tmp_path.resolve()


def test_derived_ids_are_stable_and_distinct_per_source() -> None:
    assert derived_video_id("clip", "http://a/clip.mp4") == derived_video_id(
        "clip", "http://a/clip.mp4"
    )
    assert derived_video_id("clip", "http://a/clip.mp4") != derived_video_id(
        "clip", "http://b/clip.mp4"
    )


def test_youtube_ids_only_for_youtube() -> None:
    assert youtube_id("Youtube", "gRqu3z-2VK0") == "gRqu3z-2VK0"
    assert youtube_id("Generic", "gRqu3z-2VK0") is None
    assert youtube_id("Youtube", "../etc") is None


def test_import_local_links_into_the_store(tmp_path: Path) -> None:
    src = tmp_path / "in" / "my video.mp4"
    src.parent.mkdir()
    src.write_bytes(b"data")
    media = import_local(Source(uri=str(src), kind="file"), tmp_path / "store")
    assert Path(media.path).read_bytes() == b"data"
    assert Path(media.path).parent == (tmp_path / "store").resolve()
    assert media.video_id.startswith("my_video-")


def test_a_symlink_leading_outside_the_media_dir_is_a_failure_row(tmp_path: Path) -> None:
    """The fault matrix's `ln -s /etc/passwd d/passwd.mp4`: nothing outside the inputs is
    read; a link to a file inside the folder is followed."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pipeline.io.ytdlp import DownloadConfig
    from pipeline.stages.acquire import _Fetch
    from pipeline.stages.failures import apply_stage

    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    d = tmp_path / "d"
    d.mkdir()
    (d / "real.mp4").write_bytes(b"video bytes")
    (d / "passwd.mp4").symlink_to(secret)
    (d / "alias.mp4").symlink_to(d / "real.mp4")
    store = tmp_path / "store"
    sources = list_media_dir(d)
    assert sorted(Path(s.uri).name for s in sources) == ["alias.mp4", "passwd.mp4", "real.mp4"]
    with pytest.raises(PermissionError, match="symlink_outside"):
        import_local(next(s for s in sources if s.uri.endswith("passwd.mp4")), store, str(d))
    with TestPipeline() as p:
        media, failed = apply_stage(
            p | beam.Create(sources), "download", _Fetch(str(store), DownloadConfig(), str(d))
        )
        assert_that(
            failed
            | "Reason"
            >> beam.Map(lambda f: (f.stage, Path(f.source_uri).name, f.message.split(":")[0])),
            equal_to([("download", "passwd.mp4", "symlink_outside")]),
            label="failed",
        )
        assert_that(
            media | "Names" >> beam.Map(lambda m: Path(m.source.uri).name),
            equal_to(["alias.mp4", "real.mp4"]),
            label="media",
        )
    inodes = {f.stat().st_ino for f in store.iterdir()}
    assert secret.stat().st_ino not in inodes and (d / "real.mp4").stat().st_ino in inodes
