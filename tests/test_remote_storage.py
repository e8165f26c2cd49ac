"""OUT and the media store behind Beam's FileSystems: a FileSystem registered under a
`fakeremote://` scheme (backed by a local folder) stands in for gs:// or s3:// so the remote
code paths run: staging and publishing media, local copies for the decoders, committed shards,
the done-check, and build."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.annotate import run
from pipeline.build import run as build
from pipeline.io import commit, storage
from pipeline.io.parquet import read_table, table_files

SCHEME = "fakeremote://"


class FakeRemoteFileSystem(LocalFileSystem):
    """Remote-style paths (`fakeremote://a/b`, no local semantics) over a local folder."""

    root = ""

    @classmethod
    def scheme(cls) -> str:
        return "fakeremote"

    def _local(self, path: str) -> str:
        return os.path.join(self.root, path[len(SCHEME) :]) if path.startswith(SCHEME) else path

    def _remote(self, path: str) -> str:
        return SCHEME + os.path.relpath(path, self.root)

    def join(self, basepath: str, *paths: str) -> str:
        if not basepath.startswith(SCHEME):
            return super().join(basepath, *paths)
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        os.makedirs(self._local(path), exist_ok=True)

    def _list(self, dir_or_prefix: str):
        remote = dir_or_prefix.startswith(SCHEME)
        for m in super()._list(self._local(dir_or_prefix)):
            yield FileMetadata(
                self._remote(m.path) if remote else m.path,
                m.size_in_bytes,
                m.last_updated_in_seconds,
            )

    def create(self, path, *args, **kwargs):
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def copy(self, sources, destinations):
        return super().copy(
            [self._local(p) for p in sources], [self._local(p) for p in destinations]
        )

    def rename(self, sources, destinations):
        for d in destinations:  # object stores have no folders to create first
            os.makedirs(os.path.dirname(self._local(d)), exist_ok=True)
        return super().rename(
            [self._local(p) for p in sources], [self._local(p) for p in destinations]
        )

    def exists(self, path):
        return super().exists(self._local(path))

    def size(self, path):
        return super().size(self._local(path))

    def last_updated(self, path):
        return super().last_updated(self._local(path))

    def checksum(self, path):
        return super().checksum(self._local(path))

    def metadata(self, path):
        return super().metadata(self._local(path))

    def delete(self, paths):
        return super().delete([self._local(p) for p in paths])


@pytest.fixture
def remote_root(tmp_path: Path):
    FakeRemoteFileSystem.root = str(tmp_path / "bucket")
    os.makedirs(FakeRemoteFileSystem.root)
    return Path(FakeRemoteFileSystem.root)


def test_storage_helpers_on_a_remote_scheme(remote_root: Path, tmp_path: Path) -> None:
    base = f"{SCHEME}data"
    assert storage.is_remote(base) and not storage.is_remote(str(tmp_path))
    storage.write_text(storage.join(base, "a", "b.txt"), "hello")
    assert (remote_root / "data" / "a" / "b.txt").read_text() == "hello"
    assert storage.read_text(f"{base}/a/b.txt") == "hello"
    assert storage.glob(f"{base}/**.txt") == [f"{base}/a/b.txt"]
    local = storage.local_path(f"{base}/a/b.txt")
    assert not storage.is_remote(local) and Path(local).read_text() == "hello"
    staged = storage.staging_dir(f"{base}/media")
    (staged / "v.mp4").write_bytes(b"media")
    assert storage.publish(staged / "v.mp4", f"{base}/media") == f"{base}/media/v.mp4"
    assert (remote_root / "data" / "media" / "v.mp4").read_bytes() == b"media"
    storage.delete_tree(f"{base}/a")
    assert not storage.exists(f"{base}/a/b.txt")


@pytest.mark.slow
def test_annotate_and_build_into_a_remote_out(remote_root: Path, corpus, tmp_path: Path) -> None:
    media = tmp_path / "in"
    media.mkdir()
    os.link(corpus[0] / "quiet.mp4", media / "quiet.mp4")
    out = f"{SCHEME}runs/out"
    argv = [
        "--media-dir",
        str(media),
        "--out",
        out,
        "--segmenter",
        "punctuation",
        "--run-id",
        "r1",
        "--clip-model",
        "off",
    ]
    summary = run(argv, test_pipeline=TestPipeline(options=PipelineOptions(argv)))
    assert (summary.videos, summary.clips, summary.failures) == (1, 2, 0)
    assert all(f.startswith(SCHEME) for f in table_files(out, "videos"))
    (video,) = read_table(out, "videos").to_pylist()
    assert video["media_uri"].startswith(f"{out}/media/")
    assert (remote_root / "runs" / "out" / "media" / Path(video["media_uri"]).name).is_file()
    assert list((remote_root / "runs" / "out" / "videos").glob("r1-*.parquet"))
    again = run(
        [*argv[:-4], "--run-id", "r2", "--clip-model", "off"],
        test_pipeline=TestPipeline(options=PipelineOptions(argv)),
    )
    assert again.skipped_done == 1 and again.videos == 0  # the done-check reads remote rows
    built = build(["--annotations", out, "--out", f"{SCHEME}runs/samples", "--keep-flagged"])
    assert built.samples["tsg_caption"] == 4 and built.samples["silence"] >= 1
    assert (remote_root / "runs" / "samples" / "build.yaml").is_file()


def test_recover_finds_waves_by_their_files_on_an_object_store(remote_root: Path) -> None:
    out = f"{SCHEME}runs/out"
    for wave in ("r-w00000", "r-w00001"):
        for table in ("videos", "sentences"):
            folder = remote_root / "runs" / "out" / "_staging" / wave / table
            folder.mkdir(parents=True)
            pq.write_table(pa.table({"x": [1]}), folder / f"{wave}-00000-of-00001.parquet")
    commit.mark_complete(commit.wave_dir(out, "r-w00000"))
    assert commit.recover(out) == commit.Recovered(("r-w00000",), ("r-w00001",))
    assert table_files(out, "videos") == [f"{out}/videos/r-w00000-00000-of-00001.parquet"]
    assert table_files(out, "sentences") == [f"{out}/sentences/r-w00000-00000-of-00001.parquet"]
    assert storage.glob(f"{commit.staging_root(out)}/**") == []
