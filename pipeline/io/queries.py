"""Useful DuckDB queries over the shards, by name: `ominous query OUT @name [video_id]`.

Each runs against the views `connect(out)` makes (one per table). `{video}` is filled from the
command line where a query needs one video.
"""

from __future__ import annotations

from pipeline.errors import UsageError

QUERIES: dict[str, str] = {
    "samples-per-task": """
        SELECT task_family, task, split, count(*) AS samples,
               count(DISTINCT video_id) AS videos
        FROM samples GROUP BY ALL ORDER BY task_family, task, split""",
    "timeline": """
        SELECT start_ms, end_ms, 'speech' AS what, text FROM sentences
        WHERE video_id = {video}
        UNION ALL
        SELECT start_ms, end_ms, CASE WHEN scene_boundary THEN 'clip (cut)' ELSE 'clip' END,
               caption FROM clips WHERE video_id = {video}
        ORDER BY start_ms, what""",
    "failures-by-reason": """
        SELECT stage, error_type, coalesce(reason, split_part(message, ':', 1)) AS reason,
               count(*) AS failures,
               max(attempt) AS most_attempts
        FROM failures GROUP BY ALL ORDER BY failures DESC, stage""",
    "hours-by-split": """
        SELECT split, count(*) AS videos, round(sum(duration_ms) / 3.6e6, 3) AS hours,
               round(sum(speech_ms) / 3.6e6, 3) AS speech_hours
        FROM videos GROUP BY split ORDER BY split""",
    "models-used": """
        SELECT provenance.asr_model, provenance.word_timing, provenance.segmenter,
               count(*) AS videos FROM videos GROUP BY ALL ORDER BY videos DESC""",
    "rejected": """
        SELECT split_part(reason, ':', 1) AS reason, scope, count(*) AS removed,
               count(DISTINCT video_id) AS videos,
               any_value(item) AS example, min(value) AS min_value, max(value) AS max_value,
               any_value(threshold) AS threshold
        FROM rejections GROUP BY ALL ORDER BY removed DESC, reason, scope""",
    "leaky-captions": """
        SELECT clip_id, caption FROM clips
        WHERE regexp_matches(caption, '\\d|\\bsec(ond)?s?\\b') ORDER BY clip_id""",
}


def named_query(name: str, video: str | None = None) -> str:
    try:
        sql = QUERIES[name]
    except KeyError:
        raise UsageError(f"no query named {name!r}; known: {', '.join(sorted(QUERIES))}") from None
    if "{video}" in sql:
        if not video:
            raise UsageError(f"query {name!r} needs a video id")
        sql = sql.replace("{video}", "'" + video.replace("'", "''") + "'")
    return sql
