"""`ominous report OUT`: one HTML page with PNG plots of a dataset, what a researcher checks
before training: sources, hours, languages, counts, durations, samples, failures, filters."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from pipeline.io.query import connect


def _plot_bars(path: Path, labels: list[str], values: list[float], title: str,
               xlabel: str) -> None:
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


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>" if rows else "<p>none</p>"


def _curation_section(funnel: dict[str, Any] | None, folder: Path) -> str:
    """The curation funnel: videos and hours in and out, and what each reason removed."""
    if not funnel:
        return "<h2>Curation</h2><p>No curation record (built before curation).</p>"
    removed = funnel.get("removed", {})
    scopes = ("videos", "speech", "sentences", "clips", "tasks", "samples")
    rows = [(reason, *(counts.get(k, 0) for k in scopes)) for reason, counts in removed.items()]
    _plot_bars(folder / "curation.png", ["in", "out"], [funnel["hours_in"], funnel["hours_out"]],
               f"hours of video in and out (policy {funnel['policy']})", "hours")
    head = (f"<p>policy <b>{html.escape(str(funnel['policy']))}</b>: {funnel['videos_in']} "
            f"videos ({funnel['hours_in']} h) in, {funnel['videos_out']} videos "
            f"({funnel['hours_out']} h) with samples out. Each removal is a row in "
            "SAMPLES/rejections (<code>ominous query SAMPLES @rejected</code>).</p>")
    return ("<h2>Curation</h2>" + head + "<img src='curation.png'>"
            + _table(rows, ("reason", "videos", "speech", "sentences", "clips", "tasks",
                            "samples")))


def write_report(out: str, samples: str | None = None, target: str | None = None) -> Path:
    folder = Path(target or Path(out) / "report")
    folder.mkdir(parents=True, exist_ok=True)
    con = connect(out)
    scon = connect(samples) if samples else con

    def q(sql: str, c: Any = con) -> list[tuple]:
        return c.execute(sql).fetchall()

    (n_videos, hours), = q("SELECT count(*), coalesce(sum(duration_ms), 0) / 3.6e6 FROM videos")
    speech_h = q("SELECT coalesce(sum(speech_ms), 0) / 3.6e6 FROM videos")[0][0]
    counts = {t: q(f"SELECT count(*) FROM {t}", scon if t == "samples" else con)[0][0]
              for t in ("sentences", "clips", "samples", "failures")}
    sections: list[str] = []
    summary = [("videos", n_videos), ("hours of video", f"{hours:.2f}"),
               ("hours of speech", f"{speech_h:.2f}"), *counts.items()]
    sections.append("<h2>Summary</h2>" + _table(summary, ("what", "value")))

    keywords = q("SELECT k, count(*) FROM (SELECT unnest(keywords) AS k FROM videos) "
                 "GROUP BY k ORDER BY 2 DESC, 1 LIMIT 40")
    _plot_bars(folder / "keywords.png", [k for k, _ in keywords], [n for _, n in keywords],
               "videos per search keyword", "videos")
    categories = q("SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM videos) "
                   "GROUP BY c ORDER BY 2 DESC, 1")
    _plot_bars(folder / "categories.png", [c for c, _ in categories],
               [n for _, n in categories], "videos per keyword category", "videos")
    langs = q("SELECT coalesce(language, '?'), count(*), sum(duration_ms) / 3.6e6 FROM videos "
              "GROUP BY 1 ORDER BY 2 DESC")
    splits = q("SELECT split, count(*) FROM videos GROUP BY 1 ORDER BY 1")
    sections.append("<h2>Sources</h2><img src='keywords.png'><img src='categories.png'>"
                    + _table([(lang, n, f"{h:.2f}") for lang, n, h in langs],
                             ("language", "videos", "hours"))
                    + _table(splits, ("split", "videos")))

    hists = (("video_durations.png", "SELECT duration_ms / 60000.0 FROM videos",
              "video duration", "minutes"),
             ("sentence_durations.png", "SELECT (end_ms - start_ms) / 1000.0 FROM sentences",
              "sentence duration", "seconds"),
             ("clip_durations.png", "SELECT (end_ms - start_ms) / 1000.0 FROM clips",
              "clip duration", "seconds"))
    for name, sql, title, unit in tqdm(hists, desc="report plots", unit="plot", disable=None):
        _plot_hist(folder / name, [v for (v,) in q(sql)], title, unit)
    sections.append("<h2>Durations</h2>" + "".join(f"<img src='{n}'>" for n, *_ in hists))

    per_task = q("SELECT task, split, count(*) FROM samples GROUP BY ALL ORDER BY 1, 2", scon)
    totals: dict[str, int] = {}
    for task, _, n in per_task:
        totals[task] = totals.get(task, 0) + n
    _plot_bars(folder / "samples.png", list(totals), list(totals.values()),
               "samples per task", "samples")
    sections.append("<h2>Samples</h2><img src='samples.png'>"
                    + _table(per_task, ("task", "split", "samples")))

    failures = q("SELECT stage, error_type, count(*) FROM failures GROUP BY ALL "
                 "ORDER BY 3 DESC")
    _plot_bars(folder / "failures.png", [f"{s}: {e}" for s, e, _ in failures],
               [n for *_, n in failures], "failures by stage and error", "failures")
    sections.append("<h2>Failures</h2><img src='failures.png'>"
                    + _table(failures, ("stage", "error type", "count")))

    build_file = Path(samples or out) / "build.yaml"
    record = (yaml.safe_load(build_file.read_text()) or {}) if build_file.is_file() else {}
    filtered = record.get("filtered", {})
    sections.append("<h2>Samples left out by quality flag</h2>"
                    + _table(sorted(filtered.items()), ("flag", "samples")))
    sections.append(_curation_section(record.get("curation"), folder))

    page = folder / "index.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>ominous dataset report"
        "</title><style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:2px 8px}img{display:block;margin:1em 0}</style></head><body>"
        f"<h1>Dataset report: {html.escape(str(out))}</h1>" + "".join(sections)
        + "</body></html>", encoding="utf-8")
    return page
