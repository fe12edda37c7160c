"""Intent files: the YAML format, the domain it loads into, and training data made from it.

Import from here; the modules behind may move.
"""

from assistant.intents.builtins import (
    BUILTINS,
    parse_duration,
    parse_integer,
    parse_number,
    parse_percentage,
    parse_time,
)
from assistant.intents.errors import IntentFileError
from assistant.intents.example import Example, Span, from_spans, spans_of
from assistant.intents.expand import (
    DEFAULT_MAX_PER_INTENT,
    OUT_OF_SCOPE,
    expand,
    holdout_values,
    out_of_scope_examples,
    split_train_dev,
)
from assistant.intents.jointbert import is_jointbert, jointbert_domain, load_jointbert
from assistant.intents.load import TrainingData, intent_files, load_domain, load_training_data
from assistant.intents.resolve import resolve
from assistant.intents.schema import Domain, Intent, Slot, SlotType, SlotValue

__all__ = [
    "BUILTINS",
    "DEFAULT_MAX_PER_INTENT",
    "Domain",
    "Example",
    "Intent",
    "IntentFileError",
    "OUT_OF_SCOPE",
    "Slot",
    "SlotType",
    "SlotValue",
    "Span",
    "TrainingData",
    "expand",
    "from_spans",
    "holdout_values",
    "intent_files",
    "is_jointbert",
    "jointbert_domain",
    "load_domain",
    "load_jointbert",
    "load_training_data",
    "out_of_scope_examples",
    "parse_duration",
    "parse_integer",
    "parse_number",
    "parse_percentage",
    "parse_time",
    "resolve",
    "spans_of",
    "split_train_dev",
]
