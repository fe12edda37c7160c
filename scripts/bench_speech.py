"""Speech benchmark: spoken commands of the bundled domain to intents, every engine side by side, clean and in noise.

    python scripts/bench_speech.py                      # 300 commands, writes docs/benchmarks/speech.json and a section of docs/benchmarks.md
    python scripts/bench_speech.py --n 120 --seed 2 --calibrate   # a calibration set: prints each engine's confidence thresholds
    python scripts/bench_speech.py --fit cal_home.json cal_coffee.json   # thresholds fitted on the dumps of several calibration runs

Commands are sampled from the domain's templates (a seed training never uses)
and said by 10 voices: espeak-ng (4 variants), flite (kal16, slt, rms, awb)
and festival (slt HTS, kal diphone). Each is heard clean and mixed with noise
at 24, 18, 12 and 6 dB SNR, measured against the speech's active power, the
noise in turn babble (other voices talking over each other) and pink noise.
Every engine runs in its own process (its RSS is its own) through the same
path as the product: the model's `Service`, audio fed in 100 ms chunks as from
a microphone, the transcript parsed with near-miss repair and trusted or not.

Per engine and condition: `accepted` (the intent and every slot's canonical
value right), `wrong` (an intent acted on with a wrong intent or value),
`asr_ceiling` (transcripts holding every slot phrase of the command), `nlu_share`
(accepted among those), latency from the end of the audio to the intent
(p50/p95), peak RSS. Needs espeak-ng, flite, festival with festvox-us-slt-hts
and festvox-kallpc16k, and sox (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from benchlib import ROOT, machine

VOICES = [("espeak-ng", "en-us"), ("flite", "kal16"), ("festival", "cmu_us_slt_arctic_hts"), ("espeak-ng", "en-gb-x-rp"),
          ("flite", "slt"), ("espeak-ng", "en-us+f3"), ("flite", "rms"), ("festival", "kal_diphone"), ("espeak-ng", "en-us+m3"),
          ("flite", "awb")]
SNRS = [None, 24, 18, 12, 6]
SEED = 20240601
BEGIN, END = "<!-- speech:begin -->", "<!-- speech:end -->"

log = logging.getLogger("bench_speech")


def condition(snr: int | None) -> str:
    return "clean" if snr is None else f"snr_{snr}db"


def commands(domain, n: int, seed: int) -> list[dict]:
    """n template sentences, intents in turn, with their slot values and the spoken words of each slot."""
    from assistant.intents import expand
    from assistant.intents.example import spans_of
    from assistant.intents.spoken import spoken

    by_intent = defaultdict(list)
    for example in expand(domain, seed=seed, max_per_intent=max(60, n // len(domain.intents) + 1)):  # enough for a small domain too
        if "template" in example.meta and example.meta.get("values") is not None:
            by_intent[example.intent].append(example)
    rng = random.Random(seed)
    for examples in by_intent.values():
        rng.shuffle(examples)
    out = []
    while len(out) < n and any(by_intent.values()):
        for intent in sorted(by_intent):
            if by_intent[intent] and len(out) < n:
                e = by_intent[intent].pop()
                phrases = [spoken(" ".join(e.tokens[a:b])) for _, a, b in spans_of(e.tags)]
                out.append({"text": spoken(e.text), "intent": intent, "values": e.meta["values"], "phrases": phrases,
                            "voice": VOICES[len(out) % len(VOICES)]})
    return out


def say(tool: str, voice: str, text: str, path: Path, speed: int = 160) -> None:
    if tool == "espeak-ng":
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text]
    elif tool == "flite":
        command = ["flite", "-voice", voice, "-t", text, "-o", str(path)]
    else:
        script = path.with_suffix(".txt")
        script.write_text(text)
        command = ["text2wave", "-eval", f"(voice_{voice})", str(script), "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not path.is_file():  # text2wave exits 0 on an unknown voice
        raise SystemExit(f"{tool} made no audio with voice {voice}: is its Debian package installed (see the docstring)?")


def read16k(path: Path) -> np.ndarray:
    from assistant.speech.audio import load_audio, resample

    return resample(load_audio(path), 16000).samples.astype(np.float64)


def babble(folder: Path, seconds: float = 60.0, seed: int = SEED) -> np.ndarray:
    """Other voices talking over each other: out-of-scope sentences, three at a time, shifted."""
    from assistant.intents.negatives import general_out_of_scope

    rng = random.Random(seed)
    sentences = rng.sample(list(general_out_of_scope()), 45)
    track = np.zeros(int(seconds * 16000))
    for k, sentence in enumerate(sentences):
        tool, voice = VOICES[(k * 3 + 1) % len(VOICES)]
        path = folder / f"babble-{k}.wav"
        say(tool, voice, sentence, path)
        speech = read16k(path)
        speech /= max(1.0, np.sqrt(np.mean(speech**2)))
        at = rng.randrange(0, len(track) - len(speech)) if len(speech) < len(track) else 0
        track[at : at + len(speech)] += speech[: len(track) - at]
    return track


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling as 1/f (the spectrum of fans, traffic, rain)."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n)


def active_power(speech: np.ndarray) -> float:
    """Mean power of the speech's active samples: what an SNR is measured against."""
    active = speech[np.abs(speech) > 0.02 * np.abs(speech).max()]
    return float(np.mean(active**2)) if len(active) else 1.0


def synthesise(items: list[dict], folder: Path, seed: int) -> list[dict]:
    """WAVs at 16 kHz: each command clean and at each SNR, half the clips with babble, half with pink noise."""
    import soundfile

    crowd = babble(folder, seed=seed)
    rng = np.random.default_rng(seed)
    clips = []
    for k, item in enumerate(items):
        raw = folder / f"{k}.raw.wav"
        say(*item["voice"], item["text"], raw)
        speech = read16k(raw)
        power = active_power(speech)
        padded = np.concatenate([np.zeros(4000), speech, np.zeros(4000)])
        kind = "babble" if k % 2 else "pink"
        noise = pink(len(padded), rng)
        if kind == "babble":
            for _ in range(20):  # a stretch of the crowd where someone is talking
                at = int(rng.integers(0, len(crowd) - len(padded)))
                if np.mean(crowd[at : at + len(padded)] ** 2) > 0.1 * np.mean(crowd**2):
                    noise = crowd[at : at + len(padded)].copy()
                    break
        noise /= np.sqrt(np.mean(noise**2))
        for snr in SNRS:
            mixed = padded if snr is None else padded + noise * np.sqrt(power / 10 ** (snr / 10))
            path = folder / f"{k}-{condition(snr)}.wav"
            soundfile.write(path, np.clip(mixed, -32768, 32767).astype(np.int16), 16000)
            clips.append({**item, "voice": "/".join(item["voice"]), "index": k, "snr": snr, "noise": kind if snr else None,
                          "wav": str(path), "seconds": len(mixed) / 16000, "speech_seconds": len(speech) / 16000})
    return clips


def same(expected, got) -> bool:
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return abs(expected - got) < 1e-6
    return str(expected).strip().lower() == str(got).strip().lower()


def right(result, clip) -> bool:
    values = {e.slot: e.value for e in result.entities}
    return (result.intent is not None and result.intent.name == clip["intent"] and set(values) == set(clip["values"])
            and all(same(v, values.get(k)) for k, v in clip["values"].items()))


def holds(transcript: str, phrases: list[str]) -> bool:
    """Whether the transcript says every slot phrase, word for word."""
    said = f" {transcript} "
    return all(f" {p} " in said for p in phrases)


def worker(args) -> None:
    """Every clip through one engine, as the product runs it; one JSON line of per-clip results."""
    from assistant.config import load_settings
    from assistant.speech.audio import Audio, load_audio
    from assistant.speech.engines import load_second
    from assistant.speech.pipeline import ACTION_WORDS, support_gap
    from assistant.speech.service import Service, SpeechOptions

    clips = json.loads(Path(args.clips).read_text())
    settings = load_settings(str(ROOT / "config.toml"))
    settings.nlu.model = Path(args.model)
    started = time.perf_counter()
    service = Service(settings, SpeechOptions(required=True, engine=args.engine, vosk_model=args.vosk_model, mode="domain", second="none"))
    pipeline = service.start().pipeline
    load_s = time.perf_counter() - started
    recognizer = pipeline.recognizer
    second = load_second(settings, recognizer, pipeline.parser.domain, None, pipeline.parser.folder)
    rows = []
    for clip in clips:
        audio = load_audio(clip["wav"])
        stream = pipeline.stream(partials=False)
        for start in range(0, len(audio.samples), 1600):  # 100 ms chunks, as from a microphone
            stream.feed(Audio(audio.samples[start : start + 1600], audio.rate))
        result = stream.finish()
        untrusted = pipeline.parser.parse(result.asr.text, repair=True)
        search = searched_row(pipeline.parser, untrusted, result.asr, clip, recognizer.trust)
        actions = [w.confidence for w in result.asr.words if w.word in ACTION_WORDS]
        rows.append({"index": clip["index"], "intent": clip["intent"], "values": clip["values"], "phrases": clip["phrases"],
                     "nlu_confidence": untrusted.intent.confidence if untrusted.intent else None, "oos_score": untrusted.oos_score,
                     "words": [[w.word, w.confidence] for w in result.asr.words], "snr": clip["snr"], "noise": clip["noise"], "voice": clip["voice"],
                     "speech_seconds": clip["speech_seconds"], "accepted": right(result, clip),
                     "wrong": result.intent is not None and not right(result, clip), "ceiling": holds(result.asr.text, clip["phrases"]),
                     "latency_ms": result.timings.latency_ms, "transcript": result.asr.text, "reference": clip["text"],
                     "asr_confidence": result.asr.confidence, "action_confidence": min(actions) if actions else None,
                     "untrusted_right": right(untrusted, clip), "untrusted_acted": untrusted.intent is not None,
                     "source": untrusted.source, "ambiguous": untrusted.ambiguous, "repair_cost": untrusted.repair.cost if untrusted.repair else 0.0,
                     "support_gap": support_gap(untrusted, result.asr), **search, **second_row(pipeline.parser, result, audio, clip, second)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": recognizer.engine, "model": recognizer.model, "load_s": round(load_s, 2), "peak_rss_mb": round(peak, 1),
                      "second": second.engine if second is not None else None, "second_model": second.model if second is not None else None, "rows": rows}))


def searched_row(parser, untrusted, transcript, clip, rules) -> dict:
    """What the calibration needs of the domain's sentence found in the audio (`pipeline.searched`): whether it
    would be consulted and parse, whether it is right, its support and that of what was heard, its likeness to it,
    and whether, not acted on, it overrules the repair of what was heard (`pipeline.overruled`)."""
    from assistant.intents.match import ACTION_WORDS
    from assistant.intents.sounds import phrase_similarity
    from assistant.speech.pipeline import heard_exactly, overruled

    sentence = transcript.domain_sentence
    if not sentence or heard_exactly(untrusted):
        return {"search_acted": False}
    found = parser.parse(sentence)
    support, heard = transcript.support([sentence, transcript.text])
    return {"search_acted": found.source == "grammar" and found.intent is not None, "search_right": right(found, clip),
            "search_sentence": sentence, "search_support": support, "search_heard_support": heard, "search_margin": transcript.domain_margin,
            "search_flip": bool((set(sentence.split()) - set(transcript.text.split())) & ACTION_WORDS),
            "search_likeness": phrase_similarity(sentence, transcript.text),
            "search_overrules": untrusted.intent is not None and overruled(parser, untrusted, transcript, sentence, support, rules, transcript.domain_margin).intent is None}


def second_row(parser, result, audio, clip, second) -> dict:
    """For a command the engine was too unsure of, what the second engine makes of it (`pipeline.second_opinion`,
    step by step): what it heard and how sure it was, for the fit of its bars, whether the first engine's audio
    contradicts it, and whether it would be taken, right, and at what cost."""
    from assistant.intents.match import ACTION_WORDS
    from assistant.speech.pipeline import contradicted, hear_again, second_trust, trust

    if second is None or result.rejected_by != "low_asr_confidence" or not result.asr.text:
        return {}
    started = time.perf_counter()
    other, untrusted = hear_again(parser, result.asr, second, audio)
    answer = trust(untrusted, other, second, second_trust(second))
    against = contradicted(parser, untrusted, result, result.asr) is not None if untrusted.intent is not None else False
    taken = answer.intent is not None and not against
    actions = [w.confidence for w in other.words if w.word in ACTION_WORDS]
    return {"second": {"transcript": other.text, "asr_confidence": other.confidence, "action_confidence": min(actions) if actions else None,
                       "nlu_confidence": untrusted.intent.confidence if untrusted.intent else None, "source": untrusted.source,
                       "ambiguous": untrusted.ambiguous, "repair_cost": untrusted.repair.cost if untrusted.repair else 0.0, "untrusted_right": right(untrusted, clip),
                       "untrusted_acted": untrusted.intent is not None, "contradicted": against, "taken": taken,
                       "right": taken and right(answer, clip), "ms": round((time.perf_counter() - started) * 1000, 2)}}


def with_second(engine: dict) -> dict:
    """The engine's clips as the product answers them with its second engine (`speech.second_engine`): a command
    the first was too unsure of is the second's when it takes it."""
    rows = []
    for r in engine["rows"]:
        s = r.get("second")
        if s is not None:
            r = {**r, "accepted": r["accepted"] or s["right"], "wrong": r["wrong"] or s["taken"] and not s["right"],
                 "latency_ms": r["latency_ms"] + s["ms"]}
        rows.append(r)
    return {**engine, "engine": f"{engine['engine']}+{engine['second']}", "model": f"{engine['model']}, then {engine['second_model']}", "rows": rows}


def search_passes(r: dict, least: float | None, gap: float, margin: float, likeness: float) -> bool:
    """`pipeline.search_doubt` on a row: whether the domain's sentence found would be acted on."""
    if not r.get("search_acted") or least is None or r["search_support"] < least:
        return False
    if r["search_margin"] is not None and r["search_margin"] < margin or r["search_likeness"] < likeness:
        return False
    difference = r["search_support"] - r["search_heard_support"]
    return difference >= -gap and not (r["search_flip"] and difference < 0)


def summarise(rows: list[dict]) -> dict:
    latencies = np.array([r["latency_ms"] for r in rows])
    three = np.array([r["latency_ms"] for r in rows if 2.5 <= r["speech_seconds"] <= 3.5])
    ceiling = [r for r in rows if r["ceiling"]]
    pct = lambda xs: round(100 * float(np.mean(xs)), 1) if len(xs) else None  # noqa: E731
    return {
        "n": len(rows),
        "accepted": pct([r["accepted"] for r in rows]),
        "wrong": pct([r["wrong"] for r in rows]),
        "asr_ceiling": pct([r["ceiling"] for r in rows]),
        "nlu_share": pct([r["accepted"] for r in ceiling]),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "latency_3s_p50_ms": round(float(np.percentile(three, 50)), 1) if len(three) else None,
    }


MIN_ACTION = 0.3
"""The action-word bar is never fitted below this: an "on" heard at a guess must not turn a light on, however rare
that is among the calibration clips."""
MAX_WRONG = 0.02
"""Share of the calibration clips the fitted thresholds may act on wrongly: being asked again beats the wrong light going off."""


def calibrate(rows: list[dict], allowed: float | None = None) -> dict | None:
    """The engine's `Trust` thresholds that keep the most right answers while acting wrongly on at most `MAX_WRONG`
    of these (calibration) clips: one bar for sentences of the templates, one (and a cost ceiling) for near misses
    put right, one for the model's answers, one for the words that decide the action, and where the engine searches
    the audio for the domain's sentence (Whisper), the least support, gap, margin and likeness to act on that
    sentence (the other answers are then the clips where it is not acted on: the pipeline falls back to what was
    heard).

    The model's answers are never shut off entirely: the benchmark's commands are all sentences of the templates,
    so it cannot count what the model is there for (commands the templates do not say).

    For a given action bar the three kinds of answer are decided apart, so each kind's options are counted
    alone and the best mix within the budget of wrong answers is found over those (not over every combination
    of thresholds)."""
    grid = [round(float(x), 2) for x in np.arange(0.0, 0.96, 0.05)]
    costs = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    gaps = [float("-inf")] + [round(float(x), 2) for x in np.arange(0.0, 3.01, 0.1)]  # -inf: no near miss acted on
    allowed = MAX_WRONG * len(rows) if allowed is None else allowed

    def kind(r) -> str:  # as `pipeline.doubt` judges it: a sentence of several intents' templates is the model's answer
        return "model" if r["source"] != "grammar" or r.get("ambiguous") else "repaired" if r["repair_cost"] else "exact"

    def frontier(options: list[tuple[int, int, dict]]) -> list[tuple[int, int, dict]]:
        """The options no other beats on both counts (more right, fewer wrong)."""
        best: dict[int, tuple[int, int, dict]] = {}
        for right, wrong, params in options:
            if wrong not in best or right > best[wrong][0]:
                best[wrong] = (right, wrong, params)
        out, most = [], -1
        for wrong in sorted(best):
            if best[wrong][0] > most:
                out.append(best[wrong])
                most = best[wrong][0]
        return out

    def counted(kept: list[dict]) -> tuple[int, int]:
        right = sum(r["untrusted_right"] for r in kept)
        return right, len(kept) - right

    searching = any(r.get("search_acted") for r in rows)
    bars = [(None, 0.0, 0.0, 0.0)] + ([(round(float(a), 2), d, m, k) for a in np.arange(-2.6, -0.55, 0.2) for d in (0.3, 0.5, 0.8, 1.1, 1.5, 2.0)
                                       for m in (0.0, 0.05, 0.1, 0.2, 0.3) for k in (0.0, 0.4, 0.5, 0.6, 0.7)] if searching else [])
    best = None
    for (least, gap, margin, likeness), action in [(b, a) for b in bars for a in grid if a >= MIN_ACTION]:
        sure = [r for r in rows if r["action_confidence"] is None or r["action_confidence"] >= action]
        found = [r for r in sure if search_passes(r, least, gap, margin, likeness)]
        taken = {id(r) for r in found}
        searched = (sum(r["search_right"] for r in found), len(found) - sum(r["search_right"] for r in found))
        acted = [r for r in sure if r["untrusted_acted"] and id(r) not in taken and not r.get("search_overrules")]
        by_kind = {k: [r for r in acted if kind(r) == k] for k in ("exact", "repaired", "model")}
        exact = frontier([(*counted([r for r in by_kind["exact"] if r["asr_confidence"] >= g]), {"grammar": g}) for g in grid])
        if any(r.get("support_gap") is not None for r in by_kind["repaired"]):  # the engine scores sentences: the audio judges
            repaired = frontier([(*counted([r for r in by_kind["repaired"] if r["support_gap"] is not None and r["support_gap"] >= -d]), {"support_gap": d})
                                 for d in gaps])
        else:
            repaired = frontier([(*counted([r for r in by_kind["repaired"] if r["asr_confidence"] >= g and r["repair_cost"] <= c]),
                                  {"repaired": g, "max_cost": c}) for g in grid + [1.01] for c in costs])
        model = frontier([(*counted([r for r in by_kind["model"] if r["asr_confidence"] >= m and r["nlu_confidence"] >= i]),
                           {"model": m, "model_intent": i}) for m in grid[::2] for i in (0.0, 0.9, 0.99)])
        for a in exact:
            for b in repaired:
                for c in model:
                    right, wrong = a[0] + b[0] + c[0] + searched[0], a[1] + b[1] + c[1] + searched[1]
                    if wrong <= allowed and (best is None or (right, -wrong) > (best[0], -best[1])):
                        best = (right, wrong, {**a[2], **b[2], **c[2], "action": action, "search": least, "search_gap": gap, "search_margin": margin,
                                         "search_likeness": likeness})
    if best is None:
        return None
    right, wrong, trust = best
    return {"trust": trust, "right": right, "wrong": wrong, "right_untrusted": sum(r["untrusted_right"] for r in rows), "clips": len(rows)}


def calibrate_with_second(rows: list[dict]) -> dict:
    """The bars of the engine and of its second engine (`pipeline.second_opinion`) together: the most right answers
    for at most `MAX_WRONG` of the clips acted on wrongly by either. The first engine's bars are fitted for a few
    wrong answers fewer than the whole budget, and the second's on the commands the first declined with what is
    left; the best split wins. (What the second engine heard is known only for the commands the first declined
    under its present bars, so a tighter first engine's gain from the second is undercounted: the split leans to
    the first engine.)"""
    total = MAX_WRONG * len(rows)
    consulted = [r["second"] for r in rows if r.get("second")]
    # the second engine's facts under the keys `calibrate` reads; an answer the first engine's audio contradicts is none
    heard = [{**s, "untrusted_acted": s["untrusted_acted"] and not s["contradicted"], "nlu_confidence": s["nlu_confidence"] or 0.0,
              "support_gap": None} for s in consulted]
    best = None
    for allowed in range(int(total), max(int(total) - 8, 0), -1):
        first = calibrate(rows, allowed)
        second = calibrate(heard, total - first["wrong"]) if first is not None else None
        if second is not None and (best is None or first["right"] + second["right"] > best["right"]):
            best = {"trust": first["trust"], "second_trust": {k: v for k, v in second["trust"].items() if not k.startswith("search")},
                    "right": first["right"] + second["right"], "wrong": first["wrong"] + second["wrong"], "right_first": first["right"],
                    "consulted": len(consulted), "clips": len(rows)}
    return best or calibrate(rows)


def report(engines: list[dict], meta: dict) -> tuple[dict, str]:
    out = {"meta": meta, "engines": {}}
    lines = [BEGIN, "## Speech", "",
             f"Spoken commands of the bundled domain to intents (`{meta['command']}`, {meta['date']}, {meta['machine']}): "
             f"{meta['commands']} commands sampled from the templates (seed {meta['seed']}, never used in training), said by "
             f"{len(VOICES)} voices ({', '.join('/'.join(v) for v in VOICES)}), each clean and at 24, 18, 12 and 6 dB SNR "
             f"(babble of other voices or pink noise, scaled to the speech's active power): {meta['clips']} clips per engine. "
             "Each engine runs the product's path (audio in 100 ms chunks, near-miss repair, trust: near misses judged by the audio "
             "where the engine can score sentences, Whisper; Whisper also searches the audio for the domain's best sentence and "
             "acts on it when the audio supports it well enough). *whisper+pocketsphinx* is Whisper as the product runs it by "
             "default: pocketsphinx hears again the commands Whisper declined (`speech.second_engine`), and its latency counts "
             "both. *accepted*: the intent and every "
             "canonical value right; *wrong*: acted on with a wrong intent or value (the rest is answered \"not understood\"); "
             "*ASR ceiling*: transcripts holding every slot phrase; *NLU share*: accepted among those; latency from the end of "
             "the audio to the intent. The machine is shared with other work: times are upper bounds.", ""]
    for engine in engines:
        rows = engine["rows"]
        table = {"all": summarise(rows), **{condition(snr): summarise([r for r in rows if r["snr"] == snr]) for snr in SNRS}}
        out["engines"][engine["engine"]] = {k: engine[k] for k in ("model", "load_s", "peak_rss_mb")} | table
        lines += [f"### {engine['engine']} ({engine['model']})", "",
                  f"Peak RSS {engine['peak_rss_mb']:.0f} MB (engine, NLU model and grammar in one process); load {engine['load_s']} s.", "",
                  "| condition | accepted % | wrong % | ASR ceiling % | NLU share % | latency p50 / p95 ms | p50, 3 s commands |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, s in table.items():
            label = {"all": "**all**", "clean": "clean"}.get(name, name.replace("snr_", "").replace("db", " dB"))
            lines.append(f"| {label} | {s['accepted']} | {s['wrong']} | {s['asr_ceiling']} | {s['nlu_share']} | "
                         f"{s['latency_p50_ms']} / {s['latency_p95_ms']} | {s['latency_3s_p50_ms']} |")
        lines.append("")
    if not any(e["engine"] == "vosk" for e in engines):
        lines += ["Vosk: no English Vosk model on the benchmark machine (none can be downloaded there); "
                  "`--vosk-model DIR` adds one (e.g. vosk-model-small-en-us-0.15).", ""]
    lines.append(END)
    return out, "\n".join(lines) + "\n"


def write_markdown(section: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section.rstrip("\n") + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="NLU model folder (default: the current version of the store, trained on first use)")
    parser.add_argument("--n", type=int, default=300, help="commands (each in 5 conditions)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the commands and the noise")
    parser.add_argument("--engines", default="pocketsphinx,whisper,vosk", help="engines to run when available")
    parser.add_argument("--vosk-model", help="a Vosk model folder for the vosk engine")
    parser.add_argument("--calibrate", action="store_true", help="print each engine's trust thresholds fitted on these clips; write nothing")
    parser.add_argument("--dump", help="also write every clip's result to this JSON file")
    parser.add_argument("--fit", nargs="+", metavar="DUMP", help="print each engine's trust thresholds fitted on the clips of these "
                                                                  "dumps together (calibration runs of several domains); run nothing")
    parser.add_argument("--json", default=str(ROOT / "docs/benchmarks/speech.json"))
    parser.add_argument("--markdown", default=str(ROOT / "docs/benchmarks.md"))
    parser.add_argument("--worker", choices=["pocketsphinx", "vosk", "whisper"], help=argparse.SUPPRESS)
    parser.add_argument("--clips", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    if args.worker:
        args.engine = args.worker
        worker(args)
        return
    if args.fit:
        rows: dict[str, list[dict]] = defaultdict(list)
        seconds: dict[str, str | None] = {}
        for dump in args.fit:
            for engine in json.loads(Path(dump).read_text()):
                rows[engine["engine"]] += engine["rows"]
                seconds[engine["engine"]] = engine.get("second") or seconds.get(engine["engine"])
        print(json.dumps({engine: calibrate(kept) for engine, kept in rows.items()} |
                         {f"{engine}+{seconds[engine]}": calibrate_with_second(kept) for engine, kept in rows.items() if seconds.get(engine)}, indent=2))
        return

    from assistant.config import load_settings
    from assistant.nlu.runtime import Parser
    from assistant.nlu.store import ensure_model
    from assistant.speech.engines import find_engines

    settings = load_settings(str(ROOT / "config.toml"))
    model = Path(args.model) if args.model else ensure_model(settings).resolve()
    items = commands(Parser(model).domain, args.n, args.seed)
    found = find_engines(settings)
    available = {e.engine for e in found if e.engine != "vosk" or e.language == "en"} | ({"vosk"} if args.vosk_model else set())
    wanted = [e for e in args.engines.split(",") if e in available]
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        started = time.perf_counter()
        clips = synthesise(items, Path(tmp), args.seed)
        log.info("%d clips synthesised in %.0f s", len(clips), time.perf_counter() - started)
        manifest = Path(tmp) / "clips.json"
        manifest.write_text(json.dumps(clips))
        engines = []
        for engine in wanted:
            command = [sys.executable, __file__, "--worker", engine, "--clips", str(manifest), "--model", str(model)]
            if engine == "vosk" and args.vosk_model:
                command += ["--vosk-model", args.vosk_model]
            log.info("running %s", engine)
            started = time.perf_counter()
            out = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if out.returncode != 0:
                raise SystemExit(f"{engine} worker failed:\n{out.stderr[-3000:]}")
            engines.append(json.loads(out.stdout.strip().splitlines()[-1]))
            log.info("%s done in %.0f s", engine, time.perf_counter() - started)
    if args.dump:
        Path(args.dump).write_text(json.dumps(engines))
    if args.calibrate:
        print(json.dumps({e["engine"]: calibrate(e["rows"]) for e in engines} |
                         {f"{e['engine']}+{e['second']}": calibrate_with_second(e["rows"]) for e in engines if e.get("second")}, indent=2))
        return
    engines += [with_second(e) for e in engines if e.get("second")]
    meta = {"commands": len(items), "clips": len(clips), "seed": args.seed, "nlu_model": model.name, "machine": machine(),
            "date": time.strftime("%Y-%m-%d"), "command": "python scripts/bench_speech.py " + " ".join(sys.argv[1:])}
    data, section = report(engines, meta)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_markdown(section, Path(args.markdown))
    print(section)


if __name__ == "__main__":
    main()
