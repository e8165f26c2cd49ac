"""`ominous report OUT`: one HTML page with PNG plots of a dataset, what a researcher checks
before training: sources, hours, languages, counts, durations, samples, failures, filters,
and a few samples of each task drawn on a timeline with their frames (static files, no
server: open index.html). A section with nothing to show says so in words."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from pipeline.core import sample_view
from pipeline.errors import UsageError
from pipeline.io import storage
from pipeline.io.query import connect

SAMPLES_PER_TASK = 3
THUMB_LONG_SIDE = 192
PLOTS = (
    "keywords.png",
    "categories.png",
    "video_durations.png",
    "sentence_durations.png",
    "clip_durations.png",
    "samples.png",
    "failures.png",
    "curation.png",
)


MANIFEST = ".ominous-report"  # the files the last report wrote here, one name a line


def _clear_own_files(folder: Path) -> None:
    """A report rewritten in place drops what the last one drew and this one does not (a
    keyword plot, thumbnails of samples no longer picked): only the files its manifest
    names, never a file of the user's that happens to sit in the folder."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return
    for name in manifest.read_text(encoding="utf-8").splitlines():
        path = (folder / name).resolve()
        if name and path.is_relative_to(folder.resolve()) and path.suffix in (".png", ".jpg"):
            path.unlink(missing_ok=True)


def _write_manifest(folder: Path, page: str) -> None:
    """The files this report wrote: the pictures its page shows."""
    names = sorted(set(re.findall(r"<img src='([^']+)'", page)))
    (folder / MANIFEST).write_text("".join(f"{html.unescape(n)}\n" for n in names))


def _plot_bars(path: Path, labels: list[str], values: list[float], title: str, xlabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.35 * len(labels) + 1)))
    ax.barh(labels or ["(none)"], values or [0], color="#4c72b0")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_hist(path: Path, values: list[float], title: str, xlabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(values or [0], bins=min(40, max(5, len(values) // 5)), color="#55a868")
    ax.set_title(f"{title} (n = {len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(rows: list[tuple], header: tuple[str, ...], empty: str = "None.") -> str:
    """A table, or the sentence `empty` says when there are no rows."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>" if rows else f"<p>{html.escape(empty)}</p>"


def _thumbnails(
    strips: list[sample_view.Strip], media: dict[str, str | None], folder: Path
) -> dict[str, list[str | None]]:
    """sample id -> its thumbnail files (relative to the page), decoded once per video."""
    from pipeline.io import storage
    from pipeline.io.video import DecodeError, FrameReader, jpeg_bytes

    out: dict[str, list[str | None]] = {v.sample_id: [None] * len(v.thumb_ms) for v in strips}
    (folder / "samples").mkdir(exist_ok=True)
    for video_id in sorted({v.video_id for v in strips}):
        path = media.get(video_id)
        if path is None:
            continue
        try:
            reader = FrameReader(storage.local_path(path), THUMB_LONG_SIDE)
        except (DecodeError, OSError, RuntimeError):
            media[video_id] = None
            continue
        for view in (v for v in strips if v.video_id == video_id):
            frames = reader.frames([reader.index_at(ms) for ms in view.thumb_ms])
            for k, frame in enumerate(frames):
                name = f"samples/{view.sample_id}-{k}.jpg"
                (folder / name).write_bytes(jpeg_bytes(frame, 80))
                out[view.sample_id][k] = name
    return out


def _viewer_section(scon: Any, out: str, folder: Path) -> str:
    """A few samples of each task as timeline strips with their frames."""
    from pipeline.core.exporters import ExportError
    from pipeline.export import resolve_videos
    from pipeline.io import storage

    title = "<h2>Samples on their timeline</h2>"
    rows = scon.execute(
        "SELECT sample_id, task, split, video_id, clip_start_ms, clip_end_ms, "
        "turns, quality_flags FROM samples"
    ).fetchall()
    names = (
        "sample_id",
        "task",
        "split",
        "video_id",
        "clip_start_ms",
        "clip_end_ms",
        "turns",
        "quality_flags",
    )
    rows = [dict(zip(names, r, strict=True)) for r in rows]
    if not rows:
        return title + "<p>No samples to show.</p>"
    chosen = sample_view.pick(rows, SAMPLES_PER_TASK)
    strips = {r["sample_id"]: sample_view.strip(r) for picked in chosen.values() for r in picked}
    ids = {v.video_id for v in strips.values()}
    try:  # one read of the videos table for all of them
        facts = resolve_videos(out, None, ids)
    except ExportError:  # samples built from other annotations: no media to show
        facts = {}
    media = {
        vid: facts[vid].media if vid in facts and storage.exists(facts[vid].media) else None
        for vid in ids
    }
    thumbs = _thumbnails(list(strips.values()), media, folder)
    parts = [
        title,
        f"<p>Up to {SAMPLES_PER_TASK} samples of each task, from different videos "
        "where there are; each turn is numbered at its time under the frames of its "
        "window, and listed below.</p>",
    ]
    for task, picked in chosen.items():
        parts.append(f"<h3>{html.escape(task)}</h3>")
        for row in picked:
            view = strips[row["sample_id"]]
            note = (
                ""
                if media[view.video_id]
                else f"The media of {view.video_id} was not found next to the annotations, "
                "so the frames are missing."
            )
            parts.append(sample_view.strip_html(view, thumbs[view.sample_id], note))
    return "".join(parts)


REJECTED_PER_REASON = 3


def _rejection_examples(scon: Any, con: Any) -> dict[str, list[dict[str, Any]]]:
    """reason -> up to REJECTED_PER_REASON removals (from different videos first), each with
    the moment to show (ms) and the text it concerns."""
    import duckdb

    try:
        rows = scon.execute(
            "SELECT video_id, scope, item, reason, value, threshold "
            "FROM rejections ORDER BY reason, video_id, item"
        ).fetchall()
    except duckdb.Error:  # no rejections here (samples built before curation)
        return {}
    sentences = {
        r[0]: (r[1], r[2])
        for r in con.execute("SELECT sentence_id, start_ms, text FROM sentences").fetchall()
    }
    clips = {}
    for clip_id, video_id, keyframes, caption, screen in con.execute(
        "SELECT clip_id, video_id, keyframe_ms, caption, screen_text FROM clips "
        "ORDER BY video_id, index"
    ).fetchall():
        clips[clip_id] = (keyframes[0] if keyframes else 0, caption, screen)
        clips.setdefault(f"first:{video_id}", clips[clip_id])
    out: dict[str, list[dict[str, Any]]] = {}
    for video_id, scope, item, reason, value, threshold in rows:
        picked = out.setdefault(reason, [])
        if len(picked) >= REJECTED_PER_REASON or any(p["video_id"] == video_id for p in picked):
            continue
        if scope == "sentence" and item in sentences:
            at, text = sentences[item]
        else:
            key = item if scope == "clip" else f"first:{video_id}"
            at, caption, screen = clips.get(key, (0, None, None))
            text = " / ".join(x for x in (caption, screen and f"on screen: {screen}") if x)
        picked.append(
            {
                "video_id": video_id,
                "scope": scope,
                "item": item,
                "reason": reason,
                "value": value,
                "threshold": threshold,
                "at_ms": at,
                "text": text or "",
            }
        )
    return out


def _rejections_section(scon: Any, con: Any, out: str, folder: Path) -> str:
    """Look before you tune: a few removals of each reason with a keyframe, the text they
    concern and the signal's value against the policy's threshold."""
    from pipeline.core.exporters import ExportError
    from pipeline.export import resolve_videos
    from pipeline.io import storage
    from pipeline.io.video import DecodeError, FrameReader, jpeg_bytes

    title = "<h2>Rejected examples</h2>"
    examples = _rejection_examples(scon, con)
    if not examples:
        return title + "<p>Nothing was rejected (or no rejections table here).</p>"
    ids = {e["video_id"] for picked in examples.values() for e in picked}
    try:
        facts = resolve_videos(out, None, ids)
    except ExportError:
        facts = {}
    (folder / "rejected").mkdir(exist_ok=True)
    parts = [
        title,
        "<p>Up to three removals of each reason, from different videos: the "
        "frame at the removed item (its first keyframe, or the sentence's start), the "
        "text it concerns, and the value that crossed the policy's threshold.</p>",
    ]
    readers: dict[str, Any] = {}
    for reason, picked in examples.items():
        parts.append(f"<h3>{html.escape(reason)}</h3><div class='rejected'>")
        for k, e in enumerate(picked):
            img = ""
            media = facts.get(e["video_id"])
            if media is not None and storage.exists(media.media):
                try:
                    reader = readers.setdefault(
                        e["video_id"], FrameReader(storage.local_path(media.media), THUMB_LONG_SIDE)
                    )
                    (frame,) = reader.frames([reader.index_at(e["at_ms"])])
                    name = f"rejected/{reason}-{k}.jpg"
                    (folder / name).write_bytes(jpeg_bytes(frame, 80))
                    img = f"<img src='{html.escape(name)}' alt='{html.escape(reason)}'>"
                except (DecodeError, OSError, RuntimeError):
                    img = ""
            measured = (
                ""
                if e["value"] is None
                else f"value {e['value']:.3g}"
                + ("" if e["threshold"] is None else f" against threshold {e['threshold']:.3g}")
            )
            parts.append(
                f"<figure>{img}<figcaption><b>{html.escape(e['scope'])}</b> "
                f"{html.escape(e['item'])} ({html.escape(e['video_id'])}) "
                f"{html.escape(measured)}<br>{html.escape(e['text'][:200])}</figcaption>"
                "</figure>"
            )
        parts.append("</div>")
    return "".join(parts)


def _curation_section(funnel: dict[str, Any] | None, folder: Path) -> str:
    """The curation funnel: videos and hours in and out, and what each reason removed."""
    if not funnel:
        return "<h2>Curation</h2><p>No curation record (built before curation).</p>"
    removed = funnel.get("removed", {})
    scopes = ("videos", "speech", "sentences", "clips", "tasks", "samples")
    rows = [(reason, *(counts.get(k, 0) for k in scopes)) for reason, counts in removed.items()]
    _plot_bars(
        folder / "curation.png",
        ["in", "out"],
        [funnel["hours_in"], funnel["hours_out"]],
        f"hours of video in and out (policy {funnel['policy']})",
        "hours",
    )
    head = (
        f"<p>policy <b>{html.escape(str(funnel['policy']))}</b>: {funnel['videos_in']} "
        f"videos ({funnel['hours_in']} h) in, {funnel['videos_out']} videos "
        f"({funnel['hours_out']} h) with samples out. Each removal is a row in "
        "SAMPLES/rejections (<code>ominous query SAMPLES @rejected</code>).</p>"
    )
    return (
        "<h2>Curation</h2>"
        + head
        + "<img src='curation.png'>"
        + _table(rows, ("reason", "videos", "speech", "sentences", "clips", "tasks", "samples"))
    )


def write_report(out: str, samples: str | None = None, target: str | None = None) -> Path:
    for name, path in (("OUT", out), ("--samples", samples)):
        if path is not None and not storage.is_remote(path) and not Path(path).is_dir():
            raise UsageError(f"{name} {path} does not exist: give an annotate OUT folder")
    folder = Path(target or Path(out) / "report")
    folder.mkdir(parents=True, exist_ok=True)
    _clear_own_files(folder)
    con = connect(out)
    scon = connect(samples) if samples else con

    def q(sql: str, c: Any = con) -> list[tuple]:
        return c.execute(sql).fetchall()

    ((n_videos, hours),) = q("SELECT count(*), coalesce(sum(duration_ms), 0) / 3.6e6 FROM videos")
    speech_h = q("SELECT coalesce(sum(speech_ms), 0) / 3.6e6 FROM videos")[0][0]
    counts = {
        t: q(f"SELECT count(*) FROM {t}", scon if t == "samples" else con)[0][0]
        for t in ("sentences", "clips", "samples", "failures")
    }
    sections: list[str] = []
    summary = [
        ("videos", n_videos),
        ("hours of video", f"{hours:.2f}"),
        ("hours of speech", f"{speech_h:.2f}"),
        *counts.items(),
    ]
    sections.append("<h2>Summary</h2>" + _table(summary, ("what", "value")))

    keywords = q(
        "SELECT k, count(*) FROM (SELECT unnest(keywords) AS k FROM videos) "
        "GROUP BY k ORDER BY 2 DESC, 1 LIMIT 40"
    )
    categories = q(
        "SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM videos) "
        "GROUP BY c ORDER BY 2 DESC, 1"
    )
    if keywords:
        _plot_bars(
            folder / "keywords.png",
            [k for k, _ in keywords],
            [n for _, n in keywords],
            "videos per search keyword",
            "videos",
        )
        _plot_bars(
            folder / "categories.png",
            [c for c, _ in categories],
            [n for _, n in categories],
            "videos per keyword category",
            "videos",
        )
        searched = "<img src='keywords.png'><img src='categories.png'>"
    else:
        searched = (
            "<p>No search keywords: these videos came from URL lists or a media "
            "folder, not from <code>--keywords</code>.</p>"
        )
    langs = q(
        "SELECT coalesce(language, '?'), count(*), sum(duration_ms) / 3.6e6 FROM videos "
        "GROUP BY 1 ORDER BY 2 DESC"
    )
    splits = q("SELECT split, count(*) FROM videos GROUP BY 1 ORDER BY 1")
    if n_videos:
        sections.append(
            "<h2>Sources</h2>"
            + searched
            + _table(
                [(lang, n, f"{h:.2f}") for lang, n, h in langs], ("language", "videos", "hours")
            )
            + _table(splits, ("split", "videos"))
        )
    else:
        sections.append(
            "<h2>Sources</h2><p>No videos yet: <code>ominous annotate</code> adds them.</p>"
        )

    hists = (
        (
            "video_durations.png",
            "SELECT duration_ms / 60000.0 FROM videos",
            "video duration",
            "minutes",
        ),
        (
            "sentence_durations.png",
            "SELECT (end_ms - start_ms) / 1000.0 FROM sentences",
            "sentence duration",
            "seconds",
        ),
        (
            "clip_durations.png",
            "SELECT (end_ms - start_ms) / 1000.0 FROM clips",
            "clip duration",
            "seconds",
        ),
    )
    shown = []
    for name, sql, title, unit in tqdm(hists, desc="report plots", unit="plot", disable=None):
        values = [v for (v,) in q(sql)]
        if values:
            _plot_hist(folder / name, values, title, unit)
            shown.append(f"<img src='{name}'>")
        else:
            shown.append(f"<p>No {title}s: there are no rows to measure.</p>")
    sections.append("<h2>Durations</h2>" + "".join(shown))

    per_task = q("SELECT task, split, count(*) FROM samples GROUP BY ALL ORDER BY 1, 2", scon)
    totals: dict[str, int] = {}
    for task, _, n in per_task:
        totals[task] = totals.get(task, 0) + n
    if per_task:
        _plot_bars(
            folder / "samples.png",
            list(totals),
            list(totals.values()),
            "samples per task",
            "samples",
        )
        sections.append(
            "<h2>Samples</h2><img src='samples.png'>"
            + _table(per_task, ("task", "split", "samples"))
        )
    else:
        sections.append(
            "<h2>Samples</h2><p>No samples yet: <code>ominous build</code> makes "
            "them from these annotations.</p>"
        )
    sections.append(_viewer_section(scon, out, folder))

    failures = q("SELECT stage, error_type, count(*) FROM failures GROUP BY ALL ORDER BY 3 DESC")
    if failures:
        _plot_bars(
            folder / "failures.png",
            [f"{s}: {e}" for s, e, _ in failures],
            [n for *_, n in failures],
            "failures by stage and error",
            "failures",
        )
        sections.append(
            "<h2>Failures</h2><img src='failures.png'>"
            + _table(failures, ("stage", "error type", "count"))
        )
    else:
        sections.append("<h2>Failures</h2><p>No failures: every input was processed.</p>")

    build_file = Path(samples or out) / "build.yaml"
    record = (yaml.safe_load(build_file.read_text()) or {}) if build_file.is_file() else {}
    filtered = record.get("filtered", {})
    sections.append(
        "<h2>Samples left out by quality flag</h2>"
        + _table(
            sorted(filtered.items()),
            ("flag", "samples"),
            "None: no sample was left out by a quality flag."
            if record
            else "No build record here.",
        )
    )
    sections.append(
        _curation_section(record.get("curation"), folder)
        if record
        else "<h2>Curation</h2><p>No build record here, so no curation funnel.</p>"
    )
    sections.append(_rejections_section(scon, con, out, folder))

    page = folder / "index.html"
    body = "".join(sections)
    _write_manifest(folder, body)
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>ominous dataset report"
        "</title><style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:2px 8px}img{display:block;margin:1em 0}"
        ".rejected figure{display:inline-block;width:14em;vertical-align:top;margin:0 1em 1em 0}"
        + sample_view.STYLE
        + "</style></head><body>"
        f"<h1>Dataset report: {html.escape(str(out))}</h1>" + body + "</body></html>",
        encoding="utf-8",
    )
    return page
