"""annotate's progress bar and the offline alignment check: what a user sees first."""

from __future__ import annotations

import io

from pipeline.io import progress
from pipeline.models import whisper


def test_the_bar_counts_videos_hours_and_failures(monkeypatch) -> None:
    import tqdm as tqdm_module

    shown = io.StringIO()
    real = tqdm_module.tqdm
    monkeypatch.setattr(
        tqdm_module,
        "tqdm",
        lambda **kw: real(**{**kw, "disable": False, "file": shown, "mininterval": 0}),
    )
    with progress.annotate_bar(3):
        progress.video_done({"duration_ms": 1_800_000})
        progress.source_failed({"stage": "download"})
        progress.source_failed({"stage": "caption"})  # its video is not done: no step
        assert progress._bar.n == 2
    text = shown.getvalue()
    assert "2/3" in text and "0.50 h of media" in text and "2 failed" in text
    assert progress._bar is None
    assert progress.video_done({"duration_ms": 1}) == {"duration_ms": 1}  # no bar: no-op


def test_offline_alignment_is_skipped_without_a_download(monkeypatch, tmp_path) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not whisper._torchaudio_aligner_cached("en")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "wav2vec2_fairseq_base_ls960_asr_ls960.pth").write_bytes(b"")
    assert whisper._torchaudio_aligner_cached("en")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert whisper._offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not whisper._offline()


def test_reading_commands_do_not_import_beam(tmp_path) -> None:
    """query, validate, mix, export and report start without Beam (it takes 0.6 s and warns)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import pipeline.cli, pipeline.io.query, pipeline.io.validate, pipeline.mix, "
        "pipeline.export, pipeline.report\n"
        "from pipeline import cli\n"
        f"cli.main(['validate', {str(tmp_path)!r}])\n"
        f"cli.main(['query', {str(tmp_path)!r}, 'SELECT 1'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('apache_beam')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    assert "apitools" not in done.stderr


def test_annotate_output_has_no_beam_import_warning(tmp_path) -> None:
    """Beam logs that its BigQuery clients are missing when it is imported; annotate drops
    that line (nothing here uses BigQuery) and keeps its own."""
    import subprocess
    import sys

    (tmp_path / "urls.txt").write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "annotate",
            "--urls",
            str(tmp_path / "urls.txt"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "apitools" not in done.stderr
    assert "0 sources" in done.stderr + done.stdout


def test_build_ticks_a_video_at_a_time(monkeypatch) -> None:
    import tqdm as tqdm_module

    shown = io.StringIO()
    real = tqdm_module.tqdm
    monkeypatch.setattr(
        tqdm_module,
        "tqdm",
        lambda **kw: real(**{**kw, "disable": False, "file": shown, "mininterval": 0}),
    )
    with progress.annotate_bar(2, desc="build"):
        progress.video_built(3_600_000)
    assert "build" in shown.getvalue() and "1/2" in shown.getvalue()
    assert "1.00 h of media" in shown.getvalue()
