"""Why not to act on a sentence the model (or a repair) turned into a command: the sentence does not ask for it.

A sentence the domain's templates say is a command by construction. Everything
else reaches the neural model, which was trained on commands and on other
domains' requests, never on talk about its own domain: it reads "don't turn off
the kitchen lights", "i turned off the kitchen lights" and "what does dim mean"
as the commands whose words they share, with confidence. A grammar engine
(Rhino, Rhasspy, Home Assistant's own agent) never acts on them because they
match no template. This module gives the model's answers the same discipline,
in two checks that read the words, not the model:

- `action_conflict`: the sentence's action words against the intent's. An intent's
  action vocabulary is what its own templates, examples and slot values say; a
  sentence that says the opposite ("start" for an intent that only ever says
  "stop"), or an action its intent never says with none it does, is not that
  command ("start the sprinklers" is not `StopWatering`).
- `not_a_request`: the sentence's mood. Negated requests, reports of what someone
  did or what happened, hypotheticals and plans, questions about the words
  themselves, complaints and remarks about a device: English marks each of
  these with a few function words (a negator, a subject before a past-tense
  verb, "if", "what does ... mean"), which are read here.

Both are English; a domain in another language passes through untouched (its
templates' words never meet these tables), and the exact template sentences of
any domain are never checked.
"""

from __future__ import annotations

import re

from assistant.intents.schema import Domain
from assistant.intents.template import Group, SlotRef, Text, parse_template
from assistant.text import tokens

OPPOSITES = [
    ("on", "off"), ("start", "stop"), ("start", "cancel"), ("set", "cancel"), ("open", "close"), ("open", "shut"), ("up", "down"),
    ("add", "remove"), ("add", "delete"), ("lock", "unlock"), ("mute", "unmute"), ("enable", "disable"), ("activate", "deactivate"),
    ("arm", "disarm"), ("increase", "decrease"), ("increase", "reduce"), ("raise", "lower"), ("louder", "quieter"), ("louder", "softer"),
    ("brighter", "dimmer"), ("brighten", "dim"), ("brighter", "darker"), ("warmer", "cooler"), ("warmer", "colder"), ("hotter", "colder"),
    ("hotter", "cooler"), ("higher", "lower"), ("more", "less"), ("play", "pause"), ("resume", "pause"), ("unpause", "pause"),
    ("next", "previous"), ("connect", "disconnect"), ("plug", "unplug"), ("begin", "stop"), ("begin", "end"), ("show", "hide"),
]
"""Pairs of words that ask for opposite actions."""
OPPOSITE: dict[str, frozenset[str]] = {}
for _a, _b in OPPOSITES:
    OPPOSITE[_a] = OPPOSITE.get(_a, frozenset()) | {_b}
    OPPOSITE[_b] = OPPOSITE.get(_b, frozenset()) | {_a}
WEAK = frozenset({"on", "off", "up", "down", "more", "less", "next", "end", "set", "show", "play"})
"""Action words that are as often something else ("the light on the porch", "set", "the next song"): one of them in
a sentence never outweighs a verb that names an action ("start the sprinklers on the lawn" is not `StopWatering`)."""
INFLECTIONS = {"turned": "turn", "switched": "switch", "started": "start", "stopped": "stop", "opened": "open", "closed": "close",
               "locked": "lock", "unlocked": "unlock", "dimmed": "dim", "brightened": "brighten", "paused": "pause", "played": "play",
               "muted": "mute", "unmuted": "unmute", "raised": "raise", "lowered": "lower", "increased": "increase",
               "decreased": "decrease", "added": "add", "removed": "remove", "cancelled": "cancel", "canceled": "cancel",
               "activated": "activate", "deactivated": "deactivate", "enabled": "enable", "disabled": "disable", "resumed": "resume",
               "changed": "change", "adjusted": "adjust", "plugged": "plug", "unplugged": "unplug", "armed": "arm", "disarmed": "disarm",
               "shut": "shut", "set": "set", "put": "put", "left": "leave", "went": "go", "came": "come", "kept": "keep", "got": "get",
               "forgot": "forget", "reduced": "reduce", "deleted": "delete", "connected": "connect", "disconnected": "disconnect",
               "began": "begin", "ended": "end", "heated": "heat", "cooled": "cool", "warmed": "warm", "blasted": "blast",
               "flicked": "flick", "killed": "kill", "ran": "run", "blew": "blow", "broke": "break", "died": "die", "stayed": "stay"}
"""Past forms of the verbs of commands (and the regular ones the `-ed` rule below finds anyway), for reports."""


def vocabularies(domain: Domain) -> dict[str, frozenset[str]]:
    """Every word each intent's sentences can say: its templates' words, its examples', its list slots' values and
    synonyms (a loaded model works this out once)."""
    out = {}
    for name, intent in domain.intents.items():
        words: set[str] = set()
        for template in intent.sentences:
            try:
                words |= _template_words(parse_template(template))
            except Exception:  # noqa: BLE001  templates were checked at load; a stray one only loses its words here
                continue
        for example in intent.examples:
            words |= {w.text for w in tokens(re.sub(r"\]\([^)]*\)", " ", example))}
        for slot in intent.slots.values():
            kind = domain.slot_types.get(slot.type)
            if kind is not None:
                for value in kind.values:
                    words |= {w.text for phrase in [value.value, *value.synonyms] for w in tokens(str(phrase))}
        out[name] = frozenset(words)
    return out


def _template_words(node) -> set[str]:
    if isinstance(node, Text):
        return {w.text for w in tokens(node.text)}
    if isinstance(node, SlotRef):
        return set()
    if isinstance(node, Group):
        return {w for option in node.options for part in option for w in _template_words(part)}
    return set()


def action_conflict(vocabulary: dict[str, frozenset[str]], intent: str, text: str) -> str | None:
    """Why `text` does not ask for `intent`'s action, or None; `vocabulary`: `vocabularies(domain)`.

    It says an action word the intent's sentences never say, and none they do, while they say its opposite
    ("start" for "stop") or name their own action by other verbs ("warmer" for a lamp switched on). An action word
    the intent's sentences say settles it, unless only a `WEAK` one does against a verb ("start the sprinklers on
    the lawn": the "on" is a place, the "start" an action).
    """
    words = vocabulary.get(intent)
    own = words & OPPOSITE.keys() if words else None
    if not own:
        return None  # an intent that names no action (a question, a dataset's label): nothing to disagree with
    words_said = [w.text for w in tokens(text)]
    said = [w for i, w in enumerate(words_said) if w in OPPOSITE and (w not in WEAK or _particle(words_said, i))]
    support = {w for w in said if w in words}
    foreign = [w for w in said if w not in words]
    if not foreign:
        return None
    strong_foreign = [w for w in foreign if w not in WEAK]
    if support - WEAK or (support and not strong_foreign):
        return None
    word = (strong_foreign or foreign)[0]
    opposite = sorted(OPPOSITE[word] & own)
    if opposite:
        return f"it says \"{word}\", the opposite of what {intent} does (\"{opposite[0]}\")"
    if word in WEAK:
        return None  # a weak word the intent never says and no opposite of it: a preposition, most likely
    return f"it says \"{word}\", an action {intent}'s sentences never say ({', '.join(sorted(own))})"


PARTICLE_VERBS = frozenset({"turn", "switch", "put", "flick", "shut", "power", "turning", "switching", "putting", "crank", "dial",
                            "knock", "turned", "switched", "lights", "light", "volume", "music", "sound", "heat", "heating", "brightness",
                            "go", "goes"})
"""Words an action particle follows within a few words ("turn the kitchen lights off", "lights on", "volume up")."""
PARTICLE_NEXT = frozenset({"please", "now", "again", "for", "in", "at", "thanks", "thank", "then", "right", "a", "by", "to", "and"})


def _particle(words: list[str], i: int) -> bool:
    """Whether the weak action word at `i` is a particle of a command ("turn off the lights", "lights on in the
    hall") rather than a preposition or a noun ("bananas on the shopping list", "the next song")."""
    if words[i] not in ("on", "off", "up", "down"):
        return True
    return bool(PARTICLE_VERBS & set(words[max(0, i - 4) : i])) or i == len(words) - 1 or words[i + 1] in PARTICLE_NEXT


# --- the sentence's mood -------------------------------------------------------------------------

NEGATORS = frozenset({"don't", "dont", "do not", "never", "not", "no need", "doesn't", "doesnt", "didn't", "didnt", "won't", "wont",
                      "shouldn't", "shouldnt", "mustn't", "mustnt", "stop asking", "nobody", "no one", "isn't", "isnt", "aren't",
                      "arent", "wasn't", "wasnt", "weren't", "werent", "haven't", "havent", "hasn't", "hasnt", "can't", "cant",
                      "cannot", "couldn't", "couldnt", "wouldn't", "wouldnt", "nothing", "neither", "nor"})
"""Words that negate a clause."""
NOT_NEGATING = ("don't forget", "dont forget", "do not forget", "never mind", "not too", "not so", "can't you", "cant you",
                "couldn't you", "couldnt you", "won't you", "wont you", "why not", "do not disturb",
                "isn't it", "is not it", "not now but", "whether or not")
"""Negators that do not turn a request down: "don't forget to ...", "can't you turn it off?" asks for it."""
SUBJECTS = frozenset({"i", "we", "he", "she", "they", "you", "it", "someone", "somebody", "everyone", "everybody", "who", "that",
                      "which", "mum", "mom", "dad", "wife", "husband", "son", "daughter", "kids", "roommate", "partner", "itself",
                      "already", "just", "accidentally", "finally", "also", "never", "then", "all", "grandma", "grandpa",
                      "children", "neighbours", "neighbors", "guests", "baby", "cat", "dog", "always", "again", "i've", "we've"})
"""Words a past-tense verb follows in a report ("i turned", "she just switched", "who left")."""
FINITE = frozenset({"will", "would", "can", "could", "should", "might", "must", "is", "are", "was", "were", "keeps", "keep", "looks", "look", "seems", "seem", "feels", "feel", "has", "have",
                    "had", "sounds", "smells", "gets", "goes", "went", "makes", "belongs", "needs", "works", "stays", "flickers",
                    "flicker", "buzzes", "hums", "comes", "came", "'s", "'re", "isn't", "aren't", "wasn't", "weren't", "doesn't",
                    "won't", "broke", "stopped", "started", "turned", "switched"})
"""Verbs that make "the kitchen lights ..." a statement about them, not a command ("the kitchen lights are pretty")."""
MODALS = frozenset({"will", "would", "can", "could", "should", "might", "must", "may", "'ll"})
PAST = frozenset({"yesterday", "ago", "earlier", "last", "previously", "already"})
"""Words that put a sentence in the past ("last night", "an hour ago")."""
HYPOTHETICAL = ("if", "what if", "suppose", "supposing", "imagine", "in case", "i wonder", "wonder if", "wondering", "should i",
                "should we", "shall i", "shall we", "would it", "would that", "would i", "would we", "would they", "might",
                "maybe i", "maybe we", "maybe you should", "maybe later", "perhaps i", "perhaps we", "someday", "some day", "one day",
                "eventually", "i'll probably", "probably", "thinking about", "thinking of", "planning to", "going to have to",
                "i'm going to", "im going to", "we're going to", "i was going to", "i plan to", "we plan to", "i might", "i may",
                "whether", "could have", "would have", "should have", "ought to", "i hope", "hopefully", "pretend", "let's say", "say i")
"""Phrases of what may happen, not of what is asked for now."""
ABOUT_WORDS = ("mean", "means", "meaning", "spell", "spelled", "spelt", "spelling", "synonym", "synonyms", "define", "definition",
               "pronounce", "pronounced", "pronunciation", "the word", "a word", "another word", "words for", "called", "translate",
               "translation", "rhyme", "rhymes", "in french", "in spanish", "in german", "in italian", "in japanese", "in chinese",
               "letters", "plural", "abbreviation", "stand for", "stands for", "grammar", "verb", "noun", "adjective", "vocabulary")
"""Phrases of questions about words ("what does dim mean", "how do you spell thermostat")."""
COMPLAINT = ("why", "how come", "i hate", "hate it", "i love", "love it", "i like the", "i like my", "i like how", "i like it", "annoying",
             "annoys", "ugh", "argh", "stupid", "useless", "terrible", "awful", "sick of", "tired of", "fed up", "what's wrong",
             "what is wrong", "broken", "by itself", "by themselves", "on its own", "on their own", "all the time", "every time",
             "everytime", "again and again", "keeps", "keep turning", "keep going", "keep switching", "beautiful", "cozy",
             "cosy", "lovely", "favourite", "favorite", "remember when", "reminds me", "fun fact", "did you know", "i bet",
             "i think", "i guess", "i heard", "they say", "funny", "interesting", "cool that", "so cool", "how much did",
             "cost", "bought", "install", "installed", "renovate", "paint", "painted", "wallpaper",
             "lol", "haha")
"""Phrases of complaints and remarks about a device, which ask for nothing ("the lights keep turning off by themselves")."""
REQUESTS = ("please", "could you", "can you", "would you", "will you", "i want", "i wanna", "i need", "i'd like", "i would like", "id like",
            "i'd love", "i would love", "let's", "lets", "make", "turn", "switch", "set", "put", "go", "give", "help me", "tell me",
            "show me", "remind me", "wake me", "add", "start", "stop", "play", "pause", "open", "close", "lock", "unlock", "dim", "can i",
            "could i", "may i")
"""How requests begin: a clause that begins so is a request whatever follows ("i want the lights off")."""
SUBORDINATE = frozenset({"since", "because", "cause", "although", "though", "when", "while", "until", "after", "before", "unless",
                         "whenever", "as"})
"""Words that open a clause which depends on another ("since lunch", "when we renovate")."""
COURTESIES = frozenset({"please", "thanks", "thank", "you", "ok", "okay", "yes", "no", "now", "right", "sorry", "cheers", "lol",
                        "haha", "hey", "hi", "assistant", "nope", "yep", "sure", "cool", "great", "fine", "alright", "good"})
"""Words of a clause that asks for nothing on its own ("..., thanks")."""
DEVICES = frozenset({"lights", "light", "lamp", "lamps", "heating", "heater", "fan", "tv", "television", "music", "timer", "alarm", "door",
                     "thermostat", "power", "radio", "speaker", "blinds", "curtains", "ac", "aircon", "oven", "kettle", "vacuum"})
"""Nouns a report of what happened names as its subject ("the lamp turned itself off")."""
OPENERS = frozenset({"so", "well", "oh", "hey", "ok", "okay", "um", "uh", "erm", "hmm", "right", "alright", "and", "but", "now", "yes",
                     "yeah", "hi", "hello", "assistant", "computer", "jarvis", "then"})


def not_a_request(text: str, protected: list[tuple[int, int]] = ()) -> str | None:
    """Why `text` asks for no action although it names one, or None when it may be a request.

    A sentence asks for something when one of its clauses does ("i can't see a thing, lights please"). A clause
    does not when it is negated, about words, hypothetical, in the past, a report of what someone did or what
    happened, a complaint or remark, or a statement about a device. `protected`: character spans (the slots found,
    a device's name) whose words are names, not grammar: "do not disturb" as a switch's name is no negation."""
    reasons = []
    for start, clause in _clauses(text):
        words = [w.text for w in tokens(clause)
                 if not any(a <= start + w.start and start + w.end <= b for a, b in protected)]
        while words and words[0] in OPENERS:
            words = words[1:]
        if not words or all(w in COURTESIES for w in words) or words[0] in SUBORDINATE:
            continue  # "..., thanks", "... since lunch": no request of its own
        why = _clause_doubt(words)
        if why is None:
            return None
        reasons.append(why)
    return reasons[0] if reasons else None


def _clauses(text: str) -> list[tuple[int, str]]:
    """The clauses of `text` with their offsets: cut at punctuation and at words that join clauses."""
    out, start = [], 0
    for m in re.finditer(r"[,;:.!?]+|\s(?=(?:but|because|cause|since|although|though|so|and then)\s)", text):
        out.append((start, text[start : m.start()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def _has(words: list[str], phrases) -> str | None:
    padded = f" {' '.join(words)} "
    return next((p for p in phrases if f" {p} " in padded), None)


def _clause_doubt(words: list[str]) -> str | None:
    padded = f" {' '.join(words)} "
    unnegated = padded
    for phrase in NOT_NEGATING:
        unnegated = unnegated.replace(f" {phrase} ", " ")
    negator = next((n for n in NEGATORS if f" {n} " in unnegated), None)
    if negator is None and "leave" in words and _has(words, ("alone", "as it is", "as they are", "as is", "be", "where it is",
                                                            "where they are", "like that", "the way it is")):
        negator = "leave ... alone"
    if negator is not None:
        return f"it is negated (\"{negator}\")"
    if (phrase := _has(words, ABOUT_WORDS)) is not None:
        return f"it is about words (\"{phrase}\")"
    if (phrase := _has(words, HYPOTHETICAL)) is not None:
        return f"it is hypothetical (\"{phrase}\")"
    head = " ".join(words[:3])
    if any(head == r or head.startswith(r + " ") for r in REQUESTS):
        return None  # "i want the lights turned off": a request, whatever tense its words have
    question = words[0] in ("what", "what's", "how", "where", "which", "when", "is", "are", "does", "do", "whats")
    for i, word in enumerate(words):
        if word in PAST and (word != "last" or words[i + 1 : i + 2] in (["night"], ["week"], ["time"], ["year"], ["month"], ["evening"],
                                                                       ["weekend"])):
            return f"it tells of the past (\"{' '.join(words[i : i + 2])}\")"
        if word in ("did", "was", "were", "had") and i == 0:
            return f"it asks about the past (\"{word}\")"
        person = i > 0 and words[i - 1] in SUBJECTS and not question and words[i + 1 : i + 2] != ["off"]  # "where we left off"
        if i > 0 and (_past_form(word) and (person or words[i - 1] in DEVICES)
                      or person and (word in INFLECTIONS or word.endswith("ed") and len(word) > 4)):
            return f"it reports what happened (\"{words[i - 1]} {word}\")"
    if (phrase := _has(words, COMPLAINT)) is not None:
        return f"it remarks rather than asks (\"{phrase}\")"
    return _statement(words)


def _past_form(word: str) -> bool:
    return (word in INFLECTIONS and word not in ("set", "put", "shut", "left")) or (
        word.endswith("ed") and len(word) > 4 and word[:-2] in _COMMAND_VERBS or word.endswith("ed") and word[:-1] in _COMMAND_VERBS)


_COMMAND_VERBS = frozenset({"turn", "switch", "start", "stop", "open", "clos", "close", "lock", "unlock", "dimm", "brighten", "paus", "pause",
                            "play", "mut", "mute", "rais", "raise", "lower", "increas", "increase", "decreas", "decrease", "add", "remov",
                            "remove", "cancell", "cancel", "activat", "activate", "deactivat", "deactivate", "enabl", "enable", "disabl",
                            "disable", "resum", "resume", "chang", "change", "adjust", "plugg", "unplugg", "arm", "disarm", "flick",
                            "heat", "cool", "warm", "reduc", "reduce", "delet", "delete", "connect", "disconnect", "skipp", "stopp"})


def _statement(words: list[str]) -> str | None:
    """A clause that opens with its subject and a finite verb ("the fan is loud", "i love the colour blue") states
    something; a request opens with a verb or a request phrase, or is elliptical ("lights off in the kitchen")."""
    first = words[0]
    if _has(words, ("in the mood", "mood for", "feel like", "fancy")):
        return None  # "i'm in the mood for some reggae": a wish said as a statement
    modal = next((i for i, w in enumerate(words) if w in MODALS), None)
    if modal is not None and any(w in OPPOSITE for w in words[modal + 1 :]):
        return None  # "the study fan can go off now"
    if first in ("i", "i'm", "im", "we", "we're", "he", "she", "they", "he's", "she's", "they're", "i'll", "we'll", "i've", "we've",
                 "you", "you're", "you've") and len(words) > 1 \
            and words[1] not in ("want", "wanna", "need", "would", "'d", "must", "gotta", "wish", "have", "got", "can", "could", "should",
                                 "may", "might", "will", "are", "were", "better"):
        return f"it is a statement (\"{' '.join(words[:3])}\")"
    if first in ("the", "my", "our", "this", "that", "these", "those", "his", "her", "their", "your", "there", "it", "it's", "its",
                 "someone", "somebody", "everyone", "last", "in", "back", "on") and any(w in FINITE or _past_form(w) or w.endswith("ed")
                                                                              for w in words[1:6]):
        if first == "it's" and len(words) > 1 and words[1] in ("too", "so", "very", "really", "way", "a", "getting"):
            return None  # "it's too dark in here": an indirect request
        return f"it is a statement (\"{' '.join(words[:4])}\")"
    return None
