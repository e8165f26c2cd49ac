"""ominous: timestamped, grounded training data for streaming video LLMs."""

__version__ = "0.1.0"
