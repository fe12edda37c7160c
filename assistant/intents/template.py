"""Sentence templates: parse "(turn|switch) on [the] {room} light" into a tree and sample it.

A template stands for every sentence it can spell. Enumerating them explodes
(a few groups and two slots make millions), so training data is drawn as random
paths through the tree instead; `expand` decides how many.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Union

from assistant.errors import AssistantError

_SLOT_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_RULE = re.compile(r"<([A-Za-z_][\w\-]*)>")
_CLOSER = {"(": ")", "[": "]"}


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


Node = Union[Text, SlotRef, Group]


def parse_template(template: str) -> Group:
    """Parse a template into a `Group`; raise `TemplateError` naming what is unbalanced and where.

    Syntax: `(a|b)` alternatives, `[a]` or `[a|b]` optional, `{slot}` a slot, all nestable;
    a `|` outside any group splits the whole template into alternatives.
    """
    # Each open frame: (bracket, column, finished options, current option).
    stack: list[tuple[str, int, list[tuple[Node, ...]], list[Node]]] = [("", 0, [], [])]
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char in "([":
            stack.append((char, i + 1, [], []))
        elif char == "|":
            stack[-1][2].append(tuple(stack[-1][3]))
            stack[-1][3].clear()
        elif char in ")]":
            opener, column, options, current = stack[-1]
            if not opener:
                raise TemplateError(f"unbalanced '{char}' at column {i + 1}")
            if _CLOSER[opener] != char:
                raise TemplateError(f"'{opener}' at column {column} is closed by '{char}' at column {i + 1}")
            stack.pop()
            options.append(tuple(current))
            if opener == "[":
                options.append(())
            stack[-1][3].append(Group(tuple(options)))
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
            while end < n and template[end] not in "()[]{}|":
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

    def replace(text: str, seen: tuple[str, ...]) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in rules:
                raise TemplateError(f"unknown rule <{name}>")
            if name in seen:
                raise TemplateError(f"rule <{name}> refers to itself")
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
        else:
            for child in rng.choice(node.options):
                visit(child)

    visit(node)
    return pieces


def count_sentences(node: Node) -> int:
    """How many sentences a template spells, counting each slot as one word."""
    if isinstance(node, Group):
        total = 0
        for option in node.options:
            product = 1
            for child in option:
                product *= count_sentences(child)
            total += product
        return total
    return 1
