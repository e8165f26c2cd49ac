import json
import socket
from pathlib import Path

import pytest

from pipeline.io.probe import probe
from pipeline.io.ytdlp import (
    DownloadConfig,
    DownloadFailed,
    download,
    media_from_info,
    ydl_params,
)
from pipeline.records import Source

FAST = DownloadConfig(retries=0, socket_timeout_s=5)


def test_metadata_from_a_real_youtube_info_dict(youtube_fixtures: Path) -> None:
    info = json.loads((youtube_fixtures / "video_info.json").read_text())
    media = media_from_info(Source(uri="https://youtu.be/x", kind="url"), info, "/m/x.mp4")
    assert media.video_id == info["id"] == "gRqu3z-2VK0"
    assert media.extractor == "Youtube"
    assert media.title == info["title"] and media.channel_id == info["channel_id"]
    assert media.upload_date == info["upload_date"]
    assert media.license is None  # YouTube sets one only for Creative Commons videos


def test_passthrough_options_win_over_defaults() -> None:
    params = ydl_params(DownloadConfig(extra=(("format", "worst"), ("proxy", "socks5://p"))))
    assert params["format"] == "worst" and params["proxy"] == "socks5://p"
    assert params["restrictfilenames"] is True


def test_generic_extractor_downloads_from_loopback(server: str, tmp_path: Path) -> None:
    media = download(Source(uri=f"{server}/kitchen.mp4", kind="url"), tmp_path, FAST)
    assert Path(media.path).parent == tmp_path
    assert Path(media.path).name == f"{media.video_id}.mp4"
    assert media.video_id.startswith("kitchen-")
    assert probe(media.path).duration_ms > 15000


def test_404_is_a_clear_download_failure(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="HTTP Error 404"):
        download(Source(uri=f"{server}/nope.mp4", kind="url"), tmp_path, FAST)


def test_unreachable_host_is_a_clear_download_failure(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadFailed, match=r"(?i)refused|unable to download"):
        download(Source(uri=f"http://127.0.0.1:{port}/v.mp4", kind="url"), tmp_path, FAST)
