"""ModelDoFn: the DoFn side of models/handler.py. Its model loads in setup() (once per worker
process, shared by its threads), never in __init__, so the DoFn pickles small and the driver
loads nothing."""

from __future__ import annotations

from typing import Generic

import apache_beam as beam

from pipeline.models.handler import ModelHandler, ModelT


class ModelDoFn(beam.DoFn, Generic[ModelT]):
    def __init__(self, handler: ModelHandler[ModelT]) -> None:
        self._shared = handler.share()
        self._model: ModelT | None = None

    def setup(self) -> None:
        self._model = self._shared.acquire()

    def model(self) -> ModelT:
        """The loaded model (a method, not a property: Beam reads every attribute of a DoFn
        when the pipeline is built, before setup)."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__}: setup() loads the model")
        return self._model
