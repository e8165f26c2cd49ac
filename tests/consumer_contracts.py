"""What each trainer's data loader requires of a record, written from reading their loaders
(facts, not their code), and the label layout their chat templates give a record.

LLaVA-NeXT / LongVA, `llava/train/train.py` (LLaVA-VL/LLaVA-NeXT):
  - the mixture YAML lists `datasets: [{json_path, sampling_strategy}]`; each json_path is
    opened as written (so relative paths resolve against the trainer's working directory);
  - a record with `video` is read from `os.path.join(data_args.video_folder, video)`;
  - `preprocess_multimodal` counts only `<image>` in each turn (videos too): a record without
    it never gets its visual features; the frames are inserted where `<image>` stands;
  - `preprocess_qwen` drops a first turn that is not `human`, maps human/gpt to user/assistant,
    renders each turn as `<|im_start|>{role}\\n{content}<|im_end|>\\n` after a system turn,
    and learns the whole encoding of each assistant turn.
LLaMA-Factory (sharegpt formatting): `dataset_info.json` names the file, `formatting`,
  `columns` and `tags`; turns alternate user/assistant from the user, an even count; the number
  of `<video>` tokens in the messages must equal the number of videos (likewise `<image>`).
ms-swift: `messages` with role/content, `videos` a list; `<video>` marks where each video goes;
  per-row `chat_template_kwargs` reach the template.
LiveCC, `data/lmm_dataset.py` (showlab/livecc): a `.jsonl` whose last line is a JSON list of
  the offsets each record starts at (they `seek` to it and read a line); a record is a list of
  messages whose `content` is a list of typed elements; a stream record is exactly
  [user: [video element (video, video_start, video_end), text element],
   assistant: [{type: text, text_stream: [[start, end, word], ...]}]], where the times are
  compared with the video's own frame timestamps inside [video_start, video_end]. Their
  stream mode (`preprocess_conversation_stream`, `_read_video_decord_plus` with strict fps)
  reads frames at 2 fps from those whose decord end time lies in the window (each the first
  frame at or after its grid time, the count padded to even with the last), makes a first
  chunk of 6 frames, then chunks of 2, and gives each chunk the words whose end is at most
  its last frame's time (`get_phrase_before_timestamp`, which returns the last index, not one
  past it, once the stream is used up: later chunks get the last word again); trailing
  chunks that got no word are dropped.
VideoLLM-online, `models/tokenization_live.py` and `data/stream.py` (showlab/videollm-online):
  messages are user/assistant/stream (a system turn is put first by the dataset); only the
  transitions their template offsets name are allowed (no assistant after assistant, no
  stream after stream); a stream has `num_frames` > 0 and `learn` (bool or a count); the
  features are loaded by frame range and the streams must add up to it; an assistant turn
  renders as `\\nAssistant: {content}{eos}` and is learned with its eos.
Noise's marker (the founding notes' `<|im_start|><|im_end|>`): the Qwen2 tokenizer that
  LLaVA-NeXT/LongVA (qwen_1_5), LLaMA-Factory and ms-swift (qwen2_vl) use holds `<|im_start|>`
  as an added special token (id 151644) and splits it out of any text it encodes, so an
  assistant turn that says only `<|im_start|>` is one id before the template's `<|im_end|>`.
  VideoLLM-online tokenizes with Meta-Llama-3-8B-Instruct's tokenizer, which has no
  `<|im_start|>` (it would be six plain pieces) and whose begin-of-turn special token is
  `<|start_header_id|>` (id 128006); its end token is the tokenizer's eos. Their learn range is
  character offsets over `Assistant: {content}{eos}`, so the marker is learned whole.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
SYSTEM = "You are a helpful assistant."
VLO_TRANSITIONS = {
    (None, "system"),
    ("system", "user"),
    ("system", "stream"),
    ("user", "assistant"),
    ("user", "stream"),
    ("user", "user"),
    ("assistant", "user"),
    ("assistant", "stream"),
    ("stream", "user"),
    ("stream", "assistant"),
}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


NOISE_MARKERS = ("<|im_start|>", "<|start_header_id|>")


def no_special_tokens(record: Any) -> None:
    """No literal special token, except a noise marker as a whole turn's text."""
    for s in strings(record):
        assert s in NOISE_MARKERS or not any(tok in s for tok in SPECIAL), s


def _count(texts: list[str], token: str) -> int:
    return sum(t.count(token) for t in texts)


def llava(record: dict[str, Any], video_folder: str | None, media_exists: bool = True) -> None:
    values = [t["value"] for t in record["conversations"]]
    roles = [t["from"] for t in record["conversations"]]
    assert roles[0] == "human" and all(
        r == ("human" if i % 2 == 0 else "gpt") for i, r in enumerate(roles)
    ), roles
    if "video" in record:
        path = os.path.join(video_folder or "", record["video"])
        assert os.path.isfile(path) or not media_exists, path
        assert _count(values, "<image>") == 1 and values[0].startswith("<image>"), values
        assert _count(values, "<video>") == 0


def llava_yaml(spec: dict[str, Any], elsewhere: str) -> list[dict[str, Any]]:
    """The records their YAML branch loads, opened from another working directory."""
    records = []
    here = os.getcwd()
    os.chdir(elsewhere)
    try:
        for d in spec["datasets"]:
            with open(d["json_path"]) as f:
                records += json.load(f)
    finally:
        os.chdir(here)
    return records


def llamafactory(record: dict[str, Any], info: dict[str, Any]) -> None:
    cols, tags = info["columns"], info["tags"]
    turns = record[cols["messages"]]
    roles = [t[tags["role_tag"]] for t in turns]
    assert len(roles) % 2 == 0 and all(
        r == (tags["user_tag"] if i % 2 == 0 else tags["assistant_tag"])
        for i, r in enumerate(roles)
    ), roles
    values = [t[tags["content_tag"]] for t in turns]
    for media, token in (("videos", "<video>"), ("images", "<image>")):
        have = record.get(cols.get(media, media)) or []
        assert _count(values, token) == len(have), (token, values, have)
        assert all(os.path.isfile(p) for p in have if media == "videos" and os.path.isabs(p))


def swift(record: dict[str, Any]) -> None:
    roles = [m["role"] for m in record["messages"]]
    assert roles[0] == "user" and roles[-1] == "assistant"
    assert all(a != b for a, b in itertools.pairwise(roles))
    contents = [m["content"] for m in record["messages"]]
    assert _count(contents, "<video>") == len(record.get("videos", []))
    assert _count(contents, "<image>") == len(record.get("images", []))
    if "chat_template_kwargs" in record:
        kw = record["chat_template_kwargs"]
        assert 0 <= kw["video_start"] < kw["video_end"]


def livecc_lines(path: str) -> list[Any]:
    """Read every record the way their dataset does: the last line's offsets, seek, readline."""
    with open(path, "rb") as f:
        seeks = json.loads(f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1])
    out = []
    with open(path) as f:
        for seek in seeks:
            f.seek(seek)
            out.append(json.loads(f.readline()))
    return out


def livecc(conversation: list[dict[str, Any]]) -> None:
    for m in conversation:
        assert m["role"] in ("user", "assistant", "system")
        assert all(
            "type" in e and e["type"] in e for e in m["content"] if "text_stream" not in e
        ), m
    streams = [e for m in conversation for e in m["content"] if "text_stream" in e]
    if not streams:
        return
    user, assistant = conversation  # their stream mode unpacks exactly two messages
    video, query = user["content"]
    assert video["type"] == "video" and query["type"] == "text" and query["text"]
    assert os.path.isfile(video["video"])
    (element,) = assistant["content"]
    words = element["text_stream"]
    assert words
    for start, end, word in words:
        assert video["video_start"] <= start <= end <= video["video_end"], (start, end)
        assert word and isinstance(word, str)
    assert [w[0] for w in words] == sorted(w[0] for w in words)
    # their loader learns exactly these words: none lost, the last not repeated
    assert livecc_learned_words(conversation) == [w for *_, w in words]


def livecc_learned_words(conversation: list[dict[str, Any]]) -> list[str]:
    """The words their stream loader teaches for a stream record, chunk after chunk, read
    off the video's real frame times (decord, as they read them)."""
    import decord

    user, assistant = conversation
    video = user["content"][0]
    stream = assistant["content"][0]["text_stream"]
    reader = decord.VideoReader(video["video"], num_threads=1)
    ends = [float(e) for _, e in reader.get_frame_timestamp(range(len(reader)))]
    clip = [p for p in ends if video["video_start"] <= p <= video["video_end"]]
    chosen, k = [], 0
    while clip[0] + k * 0.5 <= clip[-1] + 1e-6:
        # their argmax over all-False (a grid time past the last frame) is the first frame
        chosen.append(next((p for p in clip if p >= clip[0] + k * 0.5), clip[0]))
        k += 1
    if len(chosen) % 2:
        chosen.append(chosen[-1])
    assert len(chosen) >= 6, "their first chunk needs 6 frames"

    def phrase(at: float, start_from: int) -> tuple[list[str], int]:
        """Their words up to `at`, and where the next chunk starts: the first word left, or
        the last word's own index once none is left."""
        said, i = [], start_from
        for i in range(start_from, len(stream)):
            if at < stream[i][1]:
                break
            said.append(stream[i][2])
        return said, i

    chunks = []
    said, pointer = phrase(chosen[5], 0)
    chunks.append(said)
    for i in range(6, len(chosen), 2):
        said, pointer = phrase(chosen[i + 1], pointer)
        chunks.append(said)
    while chunks and not chunks[-1]:
        chunks.pop()
    return [w for chunk in chunks for w in chunk]


def videollm_online(record: dict[str, Any]) -> None:
    last = "system"
    for m in record["conversation"]:
        assert (last, m["role"]) in VLO_TRANSITIONS, (last, m["role"])
        last = m["role"]
        if m["role"] == "stream":
            assert m["num_frames"] > 0 and isinstance(m["learn"], bool | int)
        else:
            assert isinstance(m["content"], str)
    start, stop = record["load_range"]
    assert sum(m["num_frames"] for m in record["conversation"] if m["role"] == "stream") == (
        stop - start
    )
    assert start >= 0 and os.path.isfile(record["video"])


def chatml_labels(messages: list[tuple[str, str]]) -> str:
    """The ChatML text the Qwen2 templates render, one line per turn: learned or not, then the
    text (an assistant turn learns its content and the end token the template adds)."""
    system = "<|im_start|>system\n" + SYSTEM + "<|im_end|>"
    lines = [f"-\t{system!r}"]
    for role, content in messages:
        learn = role == "assistant"
        lines.append(f"-\t{f'<|im_start|>{role}'!r}")
        lines.append(f"{'learn' if learn else '-'}\t{content + '<|im_end|>'!r}")
    return "\n".join(lines)


def vlo_labels(conversation: list[dict[str, Any]]) -> str:
    """VideoLLM-online's rendering, one line per turn: learned or not, then what it adds."""
    lines = []
    for m in conversation:
        if m["role"] == "stream":
            lines.append(f"{'learn' if m['learn'] else '-'}\t[{m['num_frames']} frames]")
        elif m["role"] == "user":
            lines.append(f"-\t{'User: ' + m['content']!r}")
        else:
            lines.append(
                f"{'learn' if m['learn'] else '-'}\t{'Assistant: ' + m['content'] + '</s>'!r}"
            )
    return "\n".join(lines)
