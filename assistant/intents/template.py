"""Sentence templates: parse "(turn|switch) on [the] {room} light" into a tree and sample it.

A template stands for every sentence it can spell. Enumerating them explodes
(a few groups and two slots make millions), so training data is drawn as random
paths through the tree instead; `expand` decides how many.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Union

from assistant.errors import AssistantError

_SLOT_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_RULE = re.compile(r"<([A-Za-z_][\w\-]*)>")
_CLOSER = {"(": ")", "[": "]"}
MAX_NESTING = 24
"""Groups within groups a template may have: what people write stays under ten, and deeper trees exhaust recursion."""
MAX_RULE_DEPTH = 16
"""Rules within rules, likewise."""
MAX_TEMPLATE_CHARS = 50_000
"""A template with its rules applied (Home Assistant's largest is a few thousand): a bound on what rules can blow up to."""


class TemplateError(AssistantError):
    """A template that does not parse; the loader adds the file and line."""


@dataclass(frozen=True)
class Text:
    text: str
    """Literal words, spaces included."""


@dataclass(frozen=True)
class SlotRef:
    name: str
    """Slot name between braces; the intent maps it to a slot type."""


@dataclass(frozen=True)
class Group:
    options: tuple[tuple["Node", ...], ...]
    """Alternatives, each a sequence of nodes; an optional `[...]` has an empty one."""
    permute: bool = False
    """`(a; b; c)`: every option, each once, in any order, separated by spaces (not one of them)."""


Node = Union[Text, SlotRef, Group]


def parse_template(template: str) -> Group:
    """Parse a template into a `Group`; raise `TemplateError` naming what is unbalanced and where.

    Syntax: `(a|b)` alternatives, `[a]` or `[a|b]` optional, `(a; b)` both in either
    order (a permutation, as in Home Assistant's templates), `{slot}` a slot, all
    nestable; a `|` outside any group splits the whole template into alternatives.
    """
    # Each open frame: (bracket, column, finished options, current option); separators seen per frame.
    stack: list[tuple[str, int, list[tuple[Node, ...]], list[Node]]] = [("", 0, [], [])]
    separators: list[set[str]] = [set()]
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char in "([":
            if len(stack) > MAX_NESTING:
                raise TemplateError(f"groups nested more than {MAX_NESTING} deep at column {i + 1}")
            stack.append((char, i + 1, [], []))
            separators.append(set())
        elif char in "|;":
            if char == ";" and stack[-1][0] != "(":
                raise TemplateError(f"';' at column {i + 1} is outside parentheses; a permutation is written (a; b)")
            separators[-1].add(char)
            if len(separators[-1]) > 1:
                raise TemplateError(f"'{char}' at column {i + 1}: a group has alternatives (a|b) or a permutation (a; b), not both")
            stack[-1][2].append(tuple(stack[-1][3]))
            stack[-1][3].clear()
        elif char in ")]":
            opener, column, options, current = stack[-1]
            if not opener:
                raise TemplateError(f"unbalanced '{char}' at column {i + 1}")
            if _CLOSER[opener] != char:
                raise TemplateError(f"'{opener}' at column {column} is closed by '{char}' at column {i + 1}")
            stack.pop()
            permute = ";" in separators.pop()
            options.append(tuple(current))
            if opener == "[":
                options.append(())
            stack[-1][3].append(Group(tuple(options), permute=permute))
        elif char == "{":
            end = template.find("}", i)
            if end < 0:
                raise TemplateError(f"unbalanced '{{' at column {i + 1}")
            name = template[i + 1 : end].strip()
            if not _SLOT_NAME.match(name):
                raise TemplateError(f"bad slot name '{name}' at column {i + 1}")
            stack[-1][3].append(SlotRef(name))
            i = end
        elif char == "}":
            raise TemplateError(f"unbalanced '}}' at column {i + 1}")
        else:
            end = i
            while end < n and template[end] not in "()[]{}|;":
                end += 1
            stack[-1][3].append(Text(template[i:end]))
            i = end - 1
        i += 1
    if len(stack) > 1:
        opener, column = stack[-1][0], stack[-1][1]
        raise TemplateError(f"unbalanced '{opener}' at column {column}")
    root = stack[0]
    return Group(tuple(root[2]) + (tuple(root[3]),))


def apply_rules(template: str, rules: dict[str, str]) -> str:
    """Replace each `<name>` with `(body)` of the rule of that name, rules within rules included.

    Rules keep shared phrasings ("[please] [could you]") in one place; a template
    stored in a `Domain` has them applied already.
    """

    size = [len(template)]

    def replace(text: str, seen: tuple[str, ...]) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in rules:
                raise TemplateError(f"unknown rule <{name}>")
            if name in seen:
                raise TemplateError(f"rule <{name}> refers to itself")
            if len(seen) >= MAX_RULE_DEPTH:
                raise TemplateError(f"rules within rules more than {MAX_RULE_DEPTH} deep: <{'> <'.join(seen[:3])}> ... <{name}>")
            size[0] += len(rules[name]) + 2
            if size[0] > MAX_TEMPLATE_CHARS:  # rules that use a rule twice double the text at every level
                raise TemplateError(f"with its rules applied, the template is longer than {MAX_TEMPLATE_CHARS} characters")
            return "(" + replace(rules[name], seen + (name,)) + ")"

        return _RULE.sub(one, text)

    return replace(template, ())


def slot_names(node: Node) -> list[str]:
    """Slot names a template refers to, in order of first appearance."""
    found: list[str] = []

    def visit(node: Node) -> None:
        if isinstance(node, SlotRef) and node.name not in found:
            found.append(node.name)
        elif isinstance(node, Group):
            for option in node.options:
                for child in option:
                    visit(child)

    visit(node)
    return found


def sample_path(node: Node, rng: random.Random) -> list[str | SlotRef]:
    """One random sentence of the template, as literal text pieces and slot references.

    Each alternative of a group is equally likely, so `[the]` appears half the time.
    """
    pieces: list[str | SlotRef] = []

    def visit(node: Node) -> None:
        if isinstance(node, Text):
            pieces.append(node.text)
        elif isinstance(node, SlotRef):
            pieces.append(node)
        elif node.permute:
            for option in rng.sample(node.options, len(node.options)):
                pieces.append(" ")
                for child in option:
                    visit(child)
                pieces.append(" ")
        else:
            for child in rng.choice(node.options):
                visit(child)

    visit(node)
    return pieces


def spelled(node: Node, limit: int = 64) -> list[str]:
    """Every sentence of a template without slots (a list value's `in` such as `auto[matic]`), at most `limit`."""
    def visit(node: Node) -> list[str]:
        if isinstance(node, Text):
            return [node.text]
        if isinstance(node, SlotRef):
            raise TemplateError(f"a slot {{{node.name}}} cannot be spelled out")
        out: list[str] = []
        for option in node.options:
            spelled_option = [""]
            for child in option:
                spelled_option = [a + b for a in spelled_option for b in visit(child)][:limit]
            out += spelled_option
        return out[:limit]

    return list(dict.fromkeys(" ".join(s.split()) for s in visit(node) if s.strip()))


def count_sentences(node: Node) -> int:
    """How many sentences a template spells, counting each slot as one word."""
    if isinstance(node, Group):
        counts = []
        for option in node.options:
            product = 1
            for child in option:
                product *= count_sentences(child)
            counts.append(product)
        if node.permute:
            return math.factorial(len(counts)) * math.prod(counts)
        return sum(counts)
    return 1


def glued(sequence: tuple[Node, ...], limit: int = 256) -> tuple[Node, ...]:
    """`sequence` with pieces that touch without a space (`what(s| is)`, `(lamp|light)s`, `light[s]`) joined
    into one group of their spelled-out combinations, so that no word of a sentence is split between pieces.

    Matching reads whole words; sampling, which joins characters, needs no such step.
    """
    out: list[Node] = []
    for node in sequence:
        if out and touches(out[-1], -1) and touches(node, 0):
            combos = {_concat(a, b): None for a in spellings(out[-1]) for b in spellings(node)}
            if len(combos) <= limit:
                out[-1] = Group(tuple(combos))
                continue
        out.append(node)
    return tuple(out)


def touches(node: Node, end: int) -> bool:
    """Whether some spelling of `node` starts (end 0) or ends (end -1) with a character that is not a space."""
    if isinstance(node, Text):
        return bool(node.text) and not node.text[end].isspace()
    if isinstance(node, Group) and not node.permute:  # a permutation's parts are words of their own
        return any(option and touches(option[end], end) for option in node.options)
    return False  # a slot's value is words of its own


def spellings(node: Node) -> list[tuple[Node, ...]]:
    return list(node.options) if isinstance(node, Group) else [(node,)]


def _concat(a: tuple[Node, ...], b: tuple[Node, ...]) -> tuple[Node, ...]:
    if a and b and isinstance(a[-1], Text) and isinstance(b[0], Text):
        return a[:-1] + (Text(a[-1].text + b[0].text),) + b[1:]
    return a + b
