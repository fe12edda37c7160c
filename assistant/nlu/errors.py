"""Errors of the NLU stage that a user can act on; the CLI prints them as one line."""

from assistant.nlu.bundle import ModelLoadError


class TrainError(Exception):
    """Training cannot start: no encoder, no examples. The message says what to do."""


__all__ = ["ModelLoadError", "TrainError"]
