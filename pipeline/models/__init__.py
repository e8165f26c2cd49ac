"""Model loading: each stage's real model, or its recorded fallback (docs/models.md)."""


class ModelLoadError(RuntimeError):
    """A model that was asked for by name cannot be loaded; the message says what to do."""
