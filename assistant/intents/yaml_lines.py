"""Read a YAML file into plain data plus the line where every key and item starts.

Pydantic validates plain data and reports a location such as
`("intents", "LightsOn", "sentences", 2)`; the map built here turns that location
back into a line of the file, so every error can point at its line.

Every scalar is read as text (only an empty value or `null`/`~` is None): an
intent file holds words, and YAML 1.1 would otherwise turn a light called `on`,
an answer `no` or a value `007` into booleans and numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.intents.errors import IntentFileError

Location = tuple  # a key path such as ("intents", "LightsOn", "sentences", 0)

_NULLS = {"", "~", "null", "Null", "NULL"}
MAX_DEPTH = 32
"""Lists and mappings within each other: an intent file needs five."""
MAX_ALIASES = 1000
MAX_VALUES = 200_000
"""Values a file may stand for, aliases expanded: a large domain has tens of thousands."""


def load_yaml(path: str | Path) -> tuple[Any, dict[Location, int]]:
    """Parse a YAML file; return its data and the 1-based line of every location in it."""
    import yaml  # imported here so the runtime (resolve) never pulls in a YAML parser

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise IntentFileError(str(path), None, f"cannot read file: {err}") from err
    try:
        _check_shape(text, str(path), yaml)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "syntax error"
        raise IntentFileError(str(path), line, f"invalid YAML: {problem}") from err
    except yaml.YAMLError as err:
        raise IntentFileError(str(path), None, f"invalid YAML: {err}") from err

    lines: dict[Location, int] = {(): 1}
    if root is None:
        return None, lines
    return _plain(root, (), lines, str(path), yaml, [0], set()), lines


def _check_shape(text: str, path: str, yaml: Any) -> None:
    """Walk the file's events (no recursion, nothing built) and refuse what would exhaust the parser or the
    memory of whoever reads it: collections nested past `MAX_DEPTH`, more than `MAX_ALIASES` aliases."""
    depth, aliases = 0, 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise IntentFileError(path, event.start_mark.line + 1, f"lists and mappings nested more than {MAX_DEPTH} deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise IntentFileError(path, event.start_mark.line + 1, f"more than {MAX_ALIASES} YAML aliases (*name)")


def _plain(node: Any, loc: Location, lines: dict[Location, int], path: str, yaml: Any, count: list[int], open_: set[int]) -> Any:
    """Plain data of a node. An alias shares its anchor's node, so a file of a few hundred bytes can stand for
    billions of values, or contain itself: `count` (values so far) and `open_` (nodes being read) refuse both."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise IntentFileError(path, node.start_mark.line + 1, f"the file stands for more than {MAX_VALUES} values (YAML aliases repeat them)")
    if id(node) in open_:
        raise IntentFileError(path, node.start_mark.line + 1, "a YAML alias refers to a list or mapping that contains it")
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in _NULLS:
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        items = []
        open_.add(id(node))
        for i, child in enumerate(node.value):
            lines[loc + (i,)] = child.start_mark.line + 1
            items.append(_plain(child, loc + (i,), lines, path, yaml, count, open_))
        open_.discard(id(node))
        return items
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Any] = {}
        open_.add(id(node))
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise IntentFileError(path, line, "a key must be plain text, not a list or a mapping")
            key = key_node.value
            if key in mapping:
                raise IntentFileError(path, line, f"duplicate key '{key}' (first at line {lines[loc + (key,)]})")
            lines[loc + (key,)] = line
            mapping[key] = _plain(value_node, loc + (key,), lines, path, yaml, count, open_)
        open_.discard(id(node))
        return mapping
    return None


def line_of(lines: dict[Location, int], loc: Location) -> int:
    """Line of the deepest known prefix of a location (pydantic may add parts YAML has no line for)."""
    loc = tuple(loc)
    while loc not in lines:
        loc = loc[:-1]
    return lines[loc]
