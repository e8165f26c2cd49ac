"""One way to load a model, in the shape of Beam's ModelHandler: a handler holds the stage's
frozen config and knows how to `load_model()`; `shared_model()` gives every DoFn of the worker
process that asks with an equal handler the same loaded instance, so a model loads once per
worker (and the frames and score stages share one CLIP)."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

ModelT = TypeVar("ModelT")


@dataclass(frozen=True)
class ModelHandler(ABC, Generic[ModelT]):
    """Subclasses set `config` (frozen, so hashable) and implement load_model."""

    config: Any

    @abstractmethod
    def load_model(self) -> ModelT:
        """Build the model from `config`; called once per worker process and handler."""

    def shared_model(self) -> ModelT:
        return _shared(self)


@functools.lru_cache(maxsize=8)
def _shared(handler: ModelHandler[Any]) -> Any:
    """Keyed by handler class and config: equal handlers share one instance per process (a
    pipeline has six models at most; older configs are let go, as tests make many)."""
    return handler.load_model()
