"""One way to load a model, in the shape of Beam's ModelHandler: a handler holds the stage's
frozen config and knows how to `load_model()`; `share()` gives the DoFn that will use it a
handle on Beam's `Shared`, so the model loads once per worker process however many threads
call setup() at once (Dataflow runs several harness threads), and every DoFn that asks with an
equal handler (the frames and score stages' CLIP) gets the same instance."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from apache_beam.utils.shared import Shared

ModelT = TypeVar("ModelT")

KEEP_LOADED = 8  # models kept alive after their DoFns are gone (tests run many pipelines)


@dataclass(frozen=True)
class ModelHandler(ABC, Generic[ModelT]):
    """Subclasses set `config` (frozen, so hashable) and implement load_model."""

    config: Any

    @abstractmethod
    def load_model(self) -> ModelT:
        """Build the model from `config`; called once per worker process and handler."""

    def share(self) -> SharedModel[ModelT]:
        """The handle a DoFn takes in __init__ (on the driver) and acquires in setup()."""
        with _HANDLES_LOCK:
            if self not in _HANDLES:
                _HANDLES[self] = SharedModel(self, Shared())
            return _HANDLES[self]


class _Loaded:
    """A loaded model in a box: Shared keeps weak references, and a tuple or None cannot
    be referenced weakly."""

    __slots__ = ("__weakref__", "model")

    def __init__(self, model: Any) -> None:
        self.model = model


class SharedModel(Generic[ModelT]):
    """A handler with its Shared handle. It pickles small (the handle is a key), so every
    DoFn unpickled in a worker process finds the same loaded model under that key."""

    def __init__(self, handler: ModelHandler[ModelT], shared: Shared) -> None:
        self.handler = handler
        self._shared = shared

    def acquire(self) -> ModelT:
        """The loaded model: the first caller in a process loads it while the others wait."""

        def load() -> _Loaded:
            box = _Loaded(self.handler.load_model())
            _RECENT.append(box)  # kept alive past its pipeline: one slot per load, not per DoFn
            return box

        return self._shared.acquire(load).model


_HANDLES: dict[ModelHandler[Any], SharedModel[Any]] = {}
_HANDLES_LOCK = threading.Lock()
_RECENT: deque[_Loaded] = deque(maxlen=KEEP_LOADED)  # the last models loaded; thread-safe
