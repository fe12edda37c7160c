"""What a parse returns: the one result schema shared by the CLI, the REST API and the daemon."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Entity(BaseModel):
    """A slot filled in the utterance."""

    slot: str = Field(description="Slot name, as declared in the intent file (e.g. `room`).")
    type: str = Field(description="Slot type the value was resolved with (e.g. `room`, `integer`, `duration`).")
    text: str = Field(description="The words of the utterance that fill the slot, as written.")
    start: int = Field(description="Character offset of the first character in the utterance.")
    end: int = Field(description="Character offset one past the last character.")
    value: Any = Field(description="Canonical value: the list value for a synonym, an int for numbers, seconds for durations; the text itself when nothing resolves.")
    confidence: float = Field(description="Mean probability, given the whole utterance (CRF marginals), of the tags that make up the span.")


class IntentScore(BaseModel):
    name: str
    confidence: float


class ParseResult(BaseModel):
    """The understanding of one utterance."""

    text: str = Field(description="The utterance as received.")
    intent: IntentScore | None = Field(description="Best intent; null when the utterance is empty or rejected as out of scope.")
    intent_ranking: list[IntentScore] = Field(default_factory=list, description="Intents by decreasing confidence (at most 10).")
    entities: list[Entity] = Field(default_factory=list)
    in_scope: bool = Field(default=True, description="False when the utterance is judged out of the model's domain: then `intent` is null and no entities are reported.")
    oos_score: float | None = Field(default=None, description="Out-of-scope score (higher: further from the domain); rejected above the model's threshold.")
    ambiguous: bool = Field(default=False, description="In scope, but the top two intents are close: a client may ask which was meant.")
    warnings: list[str] = Field(default_factory=list, description="Why the input was handled specially (empty, truncated).")
