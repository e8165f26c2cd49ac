"""One metrics namespace; counter names as constants."""

from apache_beam.metrics import Metrics

NAMESPACE = "ominous"

VIDEOS_ACQUIRED = "videos_acquired"
VIDEOS_PROBED = "videos_probed"
VIDEOS_TRANSCRIBED = "videos_transcribed"
VIDEOS_WITHOUT_SPEECH = "videos_without_speech"
VIDEOS_WITHOUT_AUDIO = "videos_without_audio"  # no audio stream: picture tasks only
SENTENCES = "sentences"
WORDS = "words"
FAILURES = "failures"
AUDIO_MS = "audio_ms"
ASR_MS_PER_VIDEO = "asr_ms_per_video"
FRAMES_SAMPLED = "frames_sampled"
SCENE_CUTS = "scene_cuts"
CLIPS = "clips"
CAPTIONS = "captions"
CAPTIONS_CACHED = "captions_cached"
CAPTION_ATTEMPTS = "caption_attempts"
VIDEOS_COMPLETE = "videos_complete"
VIDEOS_INCOMPLETE = "videos_incomplete"
ORPHAN_ROWS = "orphan_rows"
SEARCH_HITS = "search_hits"
VIDEOS_BLOCKED = "videos_blocked"
VIDEOS_SKIPPED_DONE = "videos_skipped_done"
DOWNLOAD_WAIT_MS = "download_wait_ms"


def counter(name: str):
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str):
    return Metrics.distribution(NAMESPACE, name)
