"""Errors of the NLU stage that a user can act on; every boundary reports them as the caller's problem."""

from assistant.errors import AssistantError


class ModelLoadError(AssistantError):
    """A model folder that cannot serve (missing, incomplete, corrupt, too new); the message says which and why."""


class TrainError(AssistantError):
    """Training cannot start or finish: no encoder, no examples, an export that disagrees with torch."""
