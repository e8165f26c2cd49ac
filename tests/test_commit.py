"""Wave commits: staged shards reach OUT once, videos last, whatever point a run was killed at."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.io import commit, storage

TABLES = ("videos", "sentences", "clips", "failures")


def _stage(out: Path, wave: str, complete: bool) -> Path:
    stage = Path(commit.wave_dir(str(out), wave))
    for table in TABLES:
        folder = stage / table
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"x": [1, 2]}), folder / f"{wave}-00000-of-00001.parquet")
        # Beam's own temp folder of an unfinished write: never published
        (folder / "beam-temp-abc").mkdir()
        pq.write_table(pa.table({"x": [3]}), folder / "beam-temp-abc" / "part.parquet")
    if complete:
        commit.mark_complete(str(stage))
    return stage


def _published(out: Path) -> dict[str, list[str]]:
    return {
        t: sorted(p.name for p in (out / t).glob("*.parquet")) for t in TABLES if (out / t).is_dir()
    }


def test_publish_moves_each_shard_once_with_videos_last(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    stage = _stage(out, "r-w00000", complete=True)
    order: list[str] = []
    real_move = storage.move
    monkeypatch.setattr(
        storage, "move", lambda s, d: (order.append(Path(d).parent.name), real_move(s, d))
    )
    assert commit.publish(str(stage), str(out)) == dict.fromkeys(TABLES, 2)
    assert order[-1] == "videos" and sorted(order) == sorted(TABLES)
    assert _published(out) == {t: ["r-w00000-00000-of-00001.parquet"] for t in TABLES}
    assert not stage.exists()


def test_a_kill_during_publish_is_finished_by_the_next_start(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    stage = _stage(out, "r-w00001", complete=True)
    real_move = storage.move
    moves = []

    def dies_on_third(src: str, dst: str) -> None:
        if len(moves) == 2:
            raise KeyboardInterrupt("killed")
        moves.append(dst)
        real_move(src, dst)

    monkeypatch.setattr(storage, "move", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        commit.publish(str(stage), str(out))
    assert "videos" not in _published(out), "a video must not look done before its rows"
    monkeypatch.setattr(storage, "move", real_move)
    recovered = commit.recover(str(out))
    assert recovered.published == ("r-w00001",) and recovered.discarded == ()
    assert _published(out) == {t: ["r-w00001-00000-of-00001.parquet"] for t in TABLES}
    assert not stage.exists()


def test_an_unfinished_wave_is_discarded_and_a_finished_one_kept(tmp_path) -> None:
    out = tmp_path / "out"
    _stage(out, "r-w00000", complete=True)
    _stage(out, "r-w00001", complete=False)
    Path(commit.wave_dir(str(out), "r-w00002")).mkdir()  # killed before writing anything
    recovered = commit.recover(str(out))
    assert recovered == commit.Recovered(("r-w00000",), ("r-w00001", "r-w00002"))
    assert _published(out) == {t: ["r-w00000-00000-of-00001.parquet"] for t in TABLES}
    assert list(Path(commit.staging_root(str(out))).iterdir()) == []
    assert commit.recover(str(out)) == commit.Recovered((), ())


def test_recover_on_a_new_out_does_nothing(tmp_path) -> None:
    assert commit.recover(str(tmp_path / "new")) == commit.Recovered((), ())
    assert not (tmp_path / "new").exists()


def test_a_second_annotate_on_the_same_out_is_refused(tmp_path, capsys) -> None:
    from pipeline import cli

    out = tmp_path / "out"
    _stage(out, "other-w00000", complete=False)  # the running one's wave in progress
    media = tmp_path / "none"
    media.mkdir()
    argv = ["annotate", "--media-dir", str(media), "--out", str(out)]
    with commit.exclusive(str(out)):
        assert cli.main(argv) == cli.EXIT_USAGE
        assert "another annotate, build or compact is writing to" in capsys.readouterr().err
        assert cli.main(["compact", str(out)]) == cli.EXIT_USAGE
        assert Path(commit.wave_dir(str(out), "other-w00000")).is_dir()  # left alone
    assert cli.main(argv) == cli.EXIT_OK  # once it is gone, the next start cleans up
    assert not Path(commit.wave_dir(str(out), "other-w00000")).exists()
