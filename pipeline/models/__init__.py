"""Model loading: each stage's real model, or the design's recorded fallback."""


class ModelLoadError(RuntimeError):
    """A model that was asked for by name cannot be loaded; the message says what to do."""
