"""The gate before service: whether a newly trained version may replace the one in service.

A training that went wrong (cut short by a slow machine, a domain edited into
confusion, a bad seed) still writes a complete, loadable folder, and the
services follow the store's `current` pointer within a second. So the pointer
moves only for a version that is not worse than the one it replaces, both
scored on the same dev sentences (the new version's, which the served one has
never been trained on either when the domain changed only in examples). With
nothing comparable in service (a first model, or other intents or slot tags)
the new version must reach fixed floors instead. A refused version stays in the
store, inactive, with the reason; activating it by hand serves it knowingly.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.config import TrainConfig
from assistant.intents.example import Example
from assistant.nlu import bundle

log = logging.getLogger(__name__)


class Scores(BaseModel):
    """A version's headline scores on the gate's dev sentences (the neural model, rejection on, as served)."""

    version: str
    intent_acc: float
    slot_f1: float
    sentence_acc: float


class Decision(BaseModel):
    """What the gate decided for a new version, and why."""

    activate: bool = Field(description="The version may be made current.")
    reason: str = Field(description="One line: what it was measured against and the outcome.")
    sentences: int = Field(description="Dev sentences both versions were scored on.")
    new: Scores
    served: Scores | None = Field(None, description="The version in service on the same sentences; null when there was none to "
                                                    "compare with (then the floors applied).")
    forced: bool = Field(False, description="Activated although the gate refused it (`--activate`, `\"activate\": \"force\"`).")


def decide(new: Path, served: Path | None, dev: list[Example], config: TrainConfig) -> Decision:
    """The gate's decision for the version in `new` against the one in `served` (None: nothing in service)."""
    from assistant.nlu.runtime import Parser

    metadata, labels = bundle.check_folder(new)
    measured = metadata.metrics.get("dev")  # training measured the folder on these sentences already, as served
    ours = (Scores(version=new.name, **{k: measured[k] for k in ("intent_acc", "slot_f1", "sentence_acc")}) if measured and dev
            else _scores(Parser(new), dev))
    theirs = None
    if served is not None and served.resolve() != new.resolve():
        try:
            parser = Parser(served)
            if comparable(parser.labels, labels):
                theirs = _scores(parser, dev)
        except Exception as e:  # noqa: BLE001  a served folder that no longer loads is no yardstick: the floors apply
            log.warning("the gate could not score the served version %s: %s", served.name, e)
    if not dev:
        return Decision(activate=True, reason="no dev sentences to measure it on: activated unmeasured", sentences=0, new=ours)
    if theirs is not None:
        worse = [f"{name} {getattr(ours, key):.1f} < {getattr(theirs, key):.1f}" for key, name in (("intent_acc", "dev intent accuracy"),
                                                                                                  ("slot_f1", "dev slot F1"))
                 if getattr(ours, key) < getattr(theirs, key) - config.gate_margin]
        if worse:
            reason = (f"kept inactive: worse than {theirs.version} in service on the same {len(dev)} dev sentences "
                      f"({', '.join(worse)}; margin {config.gate_margin:g})")
        else:
            reason = (f"not worse than {theirs.version} in service on the same {len(dev)} dev sentences (intent "
                      f"{ours.intent_acc:.1f} vs {theirs.intent_acc:.1f}, slot F1 {ours.slot_f1:.1f} vs {theirs.slot_f1:.1f})")
        return Decision(activate=not worse, reason=reason, sentences=len(dev), new=ours, served=theirs)
    short = [f"{name} {getattr(ours, key):.1f} < {floor:g}" for key, name, floor in (("intent_acc", "dev intent accuracy", config.gate_intent),
                                                                                      ("slot_f1", "dev slot F1", config.gate_slot_f1))
             if getattr(ours, key) < floor]
    what = "no version of the same intents and slots in service"
    reason = (f"kept inactive: {', '.join(short)} ({what}, so the floors apply)" if short
              else f"{what}: dev intent {ours.intent_acc:.1f} and slot F1 {ours.slot_f1:.1f} reach the floors "
                   f"({config.gate_intent:g}, {config.gate_slot_f1:g})")
    return Decision(activate=not short, reason=reason, sentences=len(dev), new=ours)


def comparable(served: bundle.Labels, new: bundle.Labels) -> bool:
    """Two versions answer in the same terms: the same intents and slot tags (else the served one is not scored on
    the new one's sentences: it could not get them right)."""
    return sorted(served.intents) == sorted(new.intents) and sorted(served.tags) == sorted(new.tags)


def _scores(parser, dev: list[Example]) -> Scores:
    metrics = parser.evaluate(dev) if dev else None
    return Scores(version=parser.version, intent_acc=metrics.intent_acc if metrics else 0.0, slot_f1=metrics.slot_f1 if metrics else 0.0,
                  sentence_acc=metrics.sentence_acc if metrics else 0.0)
