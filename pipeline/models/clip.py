"""open_clip image and text embeddings for scene changes and caption/frame agreement."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core.settings import Flag, setting
from pipeline.models import ModelLoadError
from pipeline.models.handler import ModelHandler

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
RANDOM_INIT = "none"


@dataclass(frozen=True)
class ClipConfig:
    """`model`: auto, off, or an open_clip model name. `pretrained`: a tag, a weights file, or
    `none` (random weights: only for smoke tests, and recorded as such). `config_file`
    registers an extra model config (open_clip.add_model_config) on every worker."""

    model: str = setting(
        "auto", flag=Flag("clip-model", "auto, off, or an open_clip model name (ViT-B-32)")
    )
    pretrained: str = setting(
        "auto",
        flag=Flag(
            "clip-pretrained",
            "auto, an open_clip pretrained tag or weights file, or none (random weights)",
        ),
    )
    config_file: str | None = setting(
        None,
        flag=Flag("clip-config", "JSON model config to register with open_clip before loading"),
        content=False,
    )
    device: str = setting("cpu", content=False)
    batch_size: int = setting(32, content=False)


class ClipEmbedder:
    """Loaded once per worker. `name` is None when no weights loaded (scores stay null)."""

    def __init__(self, config: ClipConfig) -> None:
        self.config = config
        self.name: str | None = None
        self._model: Any = None
        if config.model == "off":
            return
        model = DEFAULT_MODEL if config.model == "auto" else config.model
        pretrained = DEFAULT_PRETRAINED if config.pretrained == "auto" else config.pretrained
        try:
            self._load(model, pretrained)
        except (RuntimeError, OSError, ValueError) as exc:
            if config.model != "auto":
                raise ModelLoadError(
                    f"open_clip {model}/{pretrained} could not be loaded "
                    f"({str(exc).splitlines()[0]})"
                ) from exc
            log.warning(
                "open_clip %s/%s unavailable (%s): frame-difference scenes only, "
                "CLIP scores left null",
                model,
                pretrained,
                type(exc).__name__,
            )
            return
        label = "random-init" if pretrained == RANDOM_INIT else pretrained
        self.name = f"{model}/{label}"
        log.info("open_clip %s loaded", self.name)

    def _load(self, model: str, pretrained: str) -> None:
        import open_clip
        import torch

        if self.config.config_file:
            open_clip.add_model_config(self.config.config_file)
        self._model, _, self._preprocess = open_clip.create_model_and_transforms(
            model,
            pretrained=None if pretrained == RANDOM_INIT else pretrained,
            device=self.config.device,
        )
        self._model.eval()
        self._tokenizer = open_clip.get_tokenizer(model)
        self._torch = torch

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed_images(self, frames: np.ndarray) -> np.ndarray:
        """Unit-norm embeddings of N x H x W x 3 uint8 frames."""
        from PIL import Image

        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.config.batch_size):
                batch = torch.stack(
                    [
                        self._preprocess(Image.fromarray(f))
                        for f in frames[i : i + self.config.batch_size]
                    ]
                )
                out.append(self._model.encode_image(batch.to(self.config.device)).float())
        emb = torch.cat(out) if out else torch.zeros(0, 1)
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            emb = self._model.encode_text(self._tokenizer(texts).to(self.config.device)).float()
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()


@dataclass(frozen=True)
class ClipHandler(ModelHandler[ClipEmbedder]):
    """One handler for the frames and score stages: with equal configs they share one model."""

    config: ClipConfig

    def load_model(self) -> ClipEmbedder:
        return ClipEmbedder(self.config)
