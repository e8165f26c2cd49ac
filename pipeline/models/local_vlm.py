"""A local Hugging Face Qwen2-VL checkpoint as `ominous eval run`'s model (`--model-path`).

Streaming keeps one KV cache from step to step, as the founding notes' `DynamicCache` loop
does, instead of encoding the window again at every step. The context is one ChatML
conversation: a user turn that grows frame by frame (each frame an image, each utterance
`Time=t s text` at its time); at every step the model is asked, through a probe that closes
the user turn and opens an assistant turn, whether it speaks: an end token first is silence
and the probe is cut from the cache again (`DynamicCache.crop`); anything else is its reply,
which stays in the context before the user turn reopens. Positions are Qwen2-VL's 3-D rotary
indices of the whole context (`get_rope_index`), so a cached step sees exactly what a step
recomputed from scratch sees; `use_cache=False` does the latter (for tests and benches).
Decoding is greedy; vision tokens are never generated.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pipeline.core import predict as P
from pipeline.models import ModelLoadError

VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
FRAME = "<|vision_start|><|image_pad|><|vision_end|>"
PROBE = "<|im_end|>\n<|im_start|>assistant\n"
REOPEN = "\n<|im_start|>user\n"


@dataclass
class _Context:
    """Token ids so far, the images they hold, and (cached) what the model has seen."""

    ids: list[int] = field(default_factory=list)
    pixels: list[Any] = field(default_factory=list)
    grids: list[Any] = field(default_factory=list)
    cache: Any = None
    last_logits: Any = None


class LocalQwen2VL:
    concurrency = 1  # one model, one context at a time

    def __init__(
        self, path: str, settings: Any, use_cache: bool = True, dtype: str = "float32"
    ) -> None:
        try:
            import torch
            from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

            self.processor = AutoProcessor.from_pretrained(path)
            self.model = Qwen2VLForConditionalGeneration.from_pretrained(
                path, torch_dtype=getattr(torch, dtype)
            ).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load a Qwen2-VL checkpoint from {path}: {exc}") from exc
        self.torch = torch
        self.name, self.settings, self.use_cache = path, settings, use_cache
        tok = self.processor.tokenizer
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        self.banned = [
            i
            for i in tok.convert_tokens_to_ids(list(VISION_TOKENS))
            if i is not None and i != tok.unk_token_id
        ]
        self._lock = threading.Lock()

    # --- the context ----------------------------------------------------------------------

    def _encode(self, text: str, images: list[Any]) -> tuple[list[int], Any, Any]:
        enc = self.processor(text=[text], images=images or None, return_tensors="pt")
        return (enc["input_ids"][0].tolist(), enc.get("pixel_values"), enc.get("image_grid_thw"))

    def _positions(self, ctx: _Context) -> Any:
        torch = self.torch
        ids = torch.tensor([ctx.ids])
        grids = torch.cat(ctx.grids) if ctx.grids else None
        positions, _ = self.model.model.get_rope_index(ids, grids, None, torch.ones_like(ids))
        return positions

    def _forward(self, ctx: _Context, new: int, pixels: Any, grids: Any) -> Any:
        """Logits of the context's last token, with its last `new` tokens just added."""
        torch = self.torch
        positions = self._positions(ctx)
        # the base model, then the output head on the last position only (a vocabulary of
        # 150k rows is most of a step's cost when every position gets logits)
        with torch.no_grad():
            if self.use_cache:
                out = self.model.model(
                    input_ids=torch.tensor([ctx.ids[-new:]]),
                    pixel_values=pixels,
                    image_grid_thw=grids,
                    position_ids=positions[:, :, -new:],
                    past_key_values=ctx.cache,
                    use_cache=True,
                )
                ctx.cache = out.past_key_values
            else:
                out = self.model.model(
                    input_ids=torch.tensor([ctx.ids]),
                    pixel_values=torch.cat(ctx.pixels) if ctx.pixels else None,
                    image_grid_thw=torch.cat(ctx.grids) if ctx.grids else None,
                    position_ids=positions,
                    use_cache=False,
                )
            logits = self.model.lm_head(out.last_hidden_state[0, -1])
        logits[self.banned] = float("-inf")
        return logits

    def _feed(
        self,
        ctx: _Context,
        text: str = "",
        images: list[Any] | None = None,
        ids: list[int] | None = None,
    ) -> None:
        if ids is None:
            ids, pixels, grids = self._encode(text, images or [])
        else:
            pixels = grids = None
        if not ids:
            return
        ctx.ids.extend(ids)
        if pixels is not None:
            ctx.pixels.append(pixels)
            ctx.grids.append(grids)
        ctx.last_logits = self._forward(ctx, len(ids), pixels, grids)

    def _generate(self, ctx: _Context) -> tuple[list[int], bool]:
        """Greedy tokens until the end token (not included), and whether it came."""
        out: list[int] = []
        for _ in range(self.settings.max_tokens):
            token = int(ctx.last_logits.argmax())
            if token == self.end_id:
                return out, True
            out.append(token)
            self._feed(ctx, ids=[token])
        return out, False

    def _cut(self, ctx: _Context, length: int, logits: Any) -> None:
        """Back to the first `length` tokens (a probe that found silence)."""
        del ctx.ids[length:]
        if ctx.cache is not None:
            ctx.cache.crop(length)
        ctx.last_logits = logits

    def _images(self, frames: list[P.Shown]) -> list[Any]:
        import io

        from PIL import Image

        return [Image.open(io.BytesIO(f.jpeg)).convert("RGB") for f in frames]

    # --- the interface --------------------------------------------------------------------

    def chat(self, prompt: dict[str, Any], frames: list[P.Shown]) -> str:
        question = prompt["messages"][-1]["content"]
        shown = frames[-self.settings.max_frames :]
        text = (
            f"<|im_start|>system\n{P.CHAT_SYSTEM}<|im_end|>\n<|im_start|>user\n"
            + FRAME * len(shown)
            + f"{question}<|im_end|>\n<|im_start|>assistant\n"
        )
        with self._lock:
            ctx = _Context()
            self._feed(ctx, text, self._images(shown))
            tokens, _ = self._generate(ctx)
        return self.processor.tokenizer.decode(tokens).strip()

    def stream(
        self, prompt: dict[str, Any], frames: list[P.Shown], steps: list[float]
    ) -> list[P.Said]:
        replies: list[P.Said] = []
        users = sorted(prompt.get("stream", []), key=lambda u: float(u["time"]))
        with self._lock:
            ctx = _Context()
            self._feed(ctx, f"<|im_start|>system\n{P.STREAM_SYSTEM}<|im_end|>\n<|im_start|>user\n")
            before = float("-inf")
            for t in steps:
                shown = [f for f in frames if before < f.time <= t + 1e-9]
                said = [u for u in users if before < float(u["time"]) <= t + 1e-9]
                text = FRAME * len(shown) + "".join(
                    f"Time={float(u['time']):g}s {u['content']}\n" for u in said
                )
                self._feed(ctx, text, self._images(shown))
                before = t
                length, logits = len(ctx.ids), ctx.last_logits
                self._feed(ctx, PROBE)
                tokens, _ = self._generate(ctx)
                reply = self.processor.tokenizer.decode(tokens).strip()
                if not tokens or not reply:
                    self._cut(ctx, length, logits)
                    continue
                replies.append(P.Said("assistant", t, reply))
                self._feed(ctx, ids=[self.end_id])
                self._feed(ctx, REOPEN)
        return replies

    def close(self) -> None:
        """Nothing held outside this process."""
