"""What a parse returns: the one result schema shared by the CLI, the REST API and the daemon."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Entity(BaseModel):
    """A slot filled in the utterance."""

    slot: str = Field(description="Slot name, as declared in the intent file (e.g. `room`).")
    type: str = Field(description="Slot type the value was resolved with (e.g. `room`, `integer`, `duration`).")
    text: str = Field(description="The words of the utterance that fill the slot, as written.")
    start: int = Field(description="Character offset of the first character in the utterance.")
    end: int = Field(description="Character offset one past the last character.")
    value: Any = Field(description="Canonical value: the list value for a synonym, an int for numbers, seconds for durations; the text itself when nothing resolves.")
    confidence: float = Field(description="How sure the answer is of the span: 1 for a sentence of the grammar; else the mean probability, "
                                          "given the whole utterance (CRF marginals), of the tags that make up the span.")
    match: Literal["exact", "fuzzy", "text", "fixed"] = Field("exact", description="How the value was found: `exact`, a value, synonym or "
                                                                                   "number as said; `fuzzy`, the nearest list value to words "
                                                                                   "that name none; `text`, no value: the words themselves; "
                                                                                   "`fixed`, set by the sentence's template without words "
                                                                                   "(then `text` is empty and `start` = `end` = 0).")


class Repair(BaseModel):
    """How a near miss of the templates was put right (speech, or when asked)."""

    cost: float = Field(description="What the changes cost: about 1 per word wrong, missing or extra; 0 for none.")
    edits: list[str] = Field(description="The changes: `heard->meant` for a word, `+word` put in, `-word` passed over, `words~value` for a slot.")
    sentence: str = Field("", description="The sentence of the templates it was taken for (\"a bit of sugar\" for \"a bit sugar\").")


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
    ambiguous: bool = Field(default=False, description="In scope, but more than one intent fits (two close in the ranking, or a "
                                                       "sentence the templates of several intents say): a client may ask which was meant.")
    source: Literal["grammar", "model"] | None = Field(default=None, description="What answered: `grammar`, the sentence is one the "
                                                                                 "domain's templates say (or a near miss of one, see "
                                                                                 "`repair`); `model`, the neural model.")
    repair: Repair | None = Field(default=None, description="The near miss of a template sentence this was matched as, when it was.")
    rejected_by: Literal["out_of_scope_class", "threshold", "low_asr_confidence", "action_conflict", "not_a_request"] | None = Field(
        default=None, description="Why `intent` is null for words that were understood as something: the model's out-of-scope class "
                                  "won, the out-of-scope score passed the threshold, the recogniser was too unsure of what it heard, "
                                  "the sentence's action words disagree with the intent's (\"start\" for a stop), or the sentence asks "
                                  "for nothing (negated, a report, hypothetical, about words, a remark); `warnings` says why.")
    warnings: list[str] = Field(default_factory=list, description="Why the input was handled specially (empty, truncated).")
