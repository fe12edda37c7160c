"""Speech benchmark: spoken default-domain commands to intents, free-form against domain-biased.

    python scripts/bench_speech.py [--model models/default] [--n 100] [--vosk-model DIR]

Commands are sampled from the domain's templates (a seed the recognisers'
domain sample never uses), said by espeak-ng in several voices and speeds, and
mixed with white noise at 20, 10 and 5 dB SNR. For each engine available
(pocketsphinx always; Vosk with --vosk-model or a configured model) and each
mode it reports: command acceptance (the intent and every slot value right),
intent accuracy, word error rate, real-time factor, latency from the end of the
audio to the intent (p50/p95; the final decoding pass and the parse both happen
after the audio ends), and peak RSS of a process that loads the engine and the
NLU model. Each engine runs in its own process so its RSS is its own.

Writes docs/benchmarks/speech.json and the "Speech" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOICES = ["en-us", "en-us+f3", "en-gb-x-rp", "en-us+m3"]
SPEEDS = [140, 165, 190]
SNRS = [None, 20, 10, 5]
SEED = 20240601
BEGIN, END = "<!-- speech:begin -->", "<!-- speech:end -->"

log = logging.getLogger("bench_speech")


def commands(domain, n: int) -> list[dict]:
    """n template sentences, intents in turn, with the slot values they mean."""
    from assistant.intents import expand
    from assistant.speech.grammar import spoken

    by_intent = defaultdict(list)
    for example in expand(domain, seed=SEED, max_per_intent=40):
        if "template" in example.meta and example.meta.get("values") is not None:
            by_intent[example.intent].append(example)
    rng = random.Random(SEED)
    for examples in by_intent.values():
        rng.shuffle(examples)
    out, i = [], 0
    while len(out) < n and any(by_intent.values()):
        for intent in sorted(by_intent):
            if by_intent[intent] and len(out) < n:
                example = by_intent[intent].pop()
                out.append({"text": spoken(example.text), "intent": intent, "values": example.meta["values"],
                            "voice": VOICES[i % len(VOICES)], "speed": SPEEDS[(i // len(VOICES)) % len(SPEEDS)]})
                i += 1
    return out


def synthesise(items: list[dict], folder: Path) -> list[dict]:
    """WAVs at 16 kHz: each command clean and at each SNR (white noise scaled to the speech's power)."""
    from assistant.speech.audio import load_audio, resample

    import soundfile

    clips = []
    for k, item in enumerate(items):
        raw = folder / f"{k}.raw.wav"
        subprocess.run(["espeak-ng", "-v", item["voice"], "-s", str(item["speed"]), "-w", str(raw), item["text"]], check=True)
        speech = resample(load_audio(raw), 16000).samples.astype(np.float64)
        raw.unlink()
        active = speech[np.abs(speech) > 0.02 * np.abs(speech).max()]
        power = float(np.mean(active**2)) if len(active) else 1.0
        noise = np.random.default_rng(SEED + k).normal(0.0, 1.0, len(speech) + 8000)
        for snr in SNRS:
            mixed = np.concatenate([np.zeros(4000), speech, np.zeros(4000)])
            if snr is not None:
                mixed = mixed + noise * np.sqrt(power / 10 ** (snr / 10))
            path = folder / f"{k}-{snr or 'clean'}.wav"
            soundfile.write(path, np.clip(mixed, -32768, 32767).astype(np.int16), 16000)
            clips.append({**item, "index": k, "snr": snr, "wav": str(path), "seconds": len(mixed) / 16000,
                          "speech_seconds": len(speech) / 16000})
    return clips


def slot_values(result) -> dict:
    return {e.slot: e.value for e in result.entities}


def same(expected, got) -> bool:
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return abs(expected - got) < 1e-6
    return str(expected).strip().lower() == str(got).strip().lower()


def word_errors(reference: str, hypothesis: str) -> int:
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def worker(args) -> None:
    """Decode every clip with one engine in both modes; print one JSON line of per-clip results."""
    from assistant.config import load_settings
    from assistant.nlu.runtime import Parser
    from assistant.speech.audio import load_audio
    from assistant.speech.engines import load_recognizer
    from assistant.speech.pipeline import Pipeline

    clips = json.loads(Path(args.clips).read_text())
    settings = load_settings(str(ROOT / "config.toml"))
    started = time.perf_counter()
    parser = Parser(args.model)
    recognizer = load_recognizer(settings, parser.domain, args.engine, args.vosk_model)
    load_s = time.perf_counter() - started
    pipeline = Pipeline(recognizer, parser)
    rows = []
    for mode in recognizer.modes():
        for clip in clips:
            audio = load_audio(clip["wav"])
            stream = pipeline.stream(mode, partials=False)
            feed_started = time.perf_counter()
            for start in range(0, len(audio.samples), 1600):  # 100 ms chunks, as from a microphone
                stream.feed(type(audio)(audio.samples[start : start + 1600], audio.rate))
            feed_ms = (time.perf_counter() - feed_started) * 1000
            result = stream.finish()
            values = slot_values(result)
            intent_ok = result.intent is not None and result.intent.name == clip["intent"]
            slots_ok = set(values) == set(clip["values"]) and all(same(v, values.get(k)) for k, v in clip["values"].items())
            rows.append({"mode": mode, "index": clip["index"], "snr": clip["snr"], "seconds": clip["seconds"],
                         "speech_seconds": clip["speech_seconds"],
                         "intent_ok": intent_ok, "accepted": intent_ok and slots_ok, "errors": word_errors(clip["text"], result.asr.text),
                         "words": len(clip["text"].split()), "asr_ms": feed_ms + result.timings.asr_ms,
                         "latency_ms": result.timings.latency_ms, "transcript": result.asr.text})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": recognizer.engine, "model": recognizer.model, "load_s": round(load_s, 2), "peak_rss_mb": round(peak, 1),
                      "rows": rows}))


def summarise(rows: list[dict]) -> dict:
    seconds = sum(r["seconds"] for r in rows)
    latencies = np.array([r["latency_ms"] for r in rows])
    three = np.array([r["latency_ms"] for r in rows if 2.5 <= r["speech_seconds"] <= 3.5])
    return {
        "n": len(rows),
        "acceptance": round(100 * np.mean([r["accepted"] for r in rows]), 1),
        "intent_acc": round(100 * np.mean([r["intent_ok"] for r in rows]), 1),
        "wer": round(100 * sum(r["errors"] for r in rows) / max(1, sum(r["words"] for r in rows)), 1),
        "rtf": round(sum(r["asr_ms"] for r in rows) / 1000 / seconds, 3),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "latency_3s_p50_ms": round(float(np.percentile(three, 50)), 1) if len(three) else None,
        "n_3s": int(len(three)),
    }


def report(engines: list[dict], meta: dict) -> tuple[dict, str]:
    out = {"meta": meta, "engines": []}
    lines = [BEGIN, "## Speech", "",
             f"Spoken default-domain commands to intents (`scripts/bench_speech.py`): {meta['commands']} commands sampled from "
             f"the intent templates (seed {SEED}, never used for the recognisers' domain sample), said by espeak-ng "
             f"({', '.join(VOICES)}; {', '.join(map(str, SPEEDS))} words a minute), each clean and with white noise at 20, 10 and 5 dB SNR, "
             f"{meta['clips']} clips in all, {meta['audio_seconds_mean']} s of speech on average (plus 0.5 s of silence). "
             "*Accepted*: the intent and every slot value right. *Latency*: from the end of the audio (fed in 100 ms chunks) to the "
             "intent, i.e. the final decoding pass plus the parse. NLU model: " + meta["nlu_model"] + ", which accepts "
             f"{meta['nlu_acceptance_on_reference_text']} % of the commands given their reference text (the ceiling for speech). "
             f"Machine: {meta['machine']}; shared with other jobs while measured, so times are upper bounds.", ""]
    for engine in engines:
        modes = {}
        for mode in sorted({r["mode"] for r in engine["rows"]}):
            rows = [r for r in engine["rows"] if r["mode"] == mode]
            modes[mode] = {"all": summarise(rows), **{("clean" if snr is None else f"snr_{snr}db"): summarise([r for r in rows if r["snr"] == snr]) for snr in SNRS}}
        out["engines"].append({k: engine[k] for k in ("engine", "model", "load_s", "peak_rss_mb")} | {"modes": modes})
        lines += [f"### {engine['engine']} ({engine['model']})", "",
                  f"Peak RSS {engine['peak_rss_mb']:.0f} MB (engine, domain model and NLU in one process); load {engine['load_s']} s.", "",
                  "| mode | condition | accepted % | intent % | WER % | RTF | latency p50 / p95 ms | p50, 3 s commands |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for mode, table in modes.items():
            for condition, s in table.items():
                three = f"{s['latency_3s_p50_ms']} (n={s['n_3s']})" if s["latency_3s_p50_ms"] is not None else "-"
                label = {"all": "**all**", "clean": "clean"}.get(condition, condition.replace("snr_", "SNR ").replace("db", " dB"))
                lines.append(f"| {mode} | {label} | {s['acceptance']} | {s['intent_acc']} | {s['wer']} | {s['rtf']} | "
                             f"{s['latency_p50_ms']} / {s['latency_p95_ms']} | {three} |")
        lines.append("")
        if {"domain", "free"} <= set(modes):
            d, f = modes["domain"], modes["free"]
            lines += [f"Domain-biased against free-form: {d['all']['acceptance']} % against {f['all']['acceptance']} % of the clips "
                      f"accepted ({d['clean']['acceptance']} % against {f['clean']['acceptance']} % clean), at "
                      f"{round(f['all']['rtf'] / max(d['all']['rtf'], 1e-9), 1)}x less decoding time.", ""]
    if not any(e["engine"] == "vosk" for e in engines):
        lines += ["Vosk: no English Vosk model on the benchmark machine (models cannot be downloaded there); "
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="NLU model folder (default: nlu.model of config.toml, trained on first use)")
    parser.add_argument("--n", type=int, default=100, help="commands (each in 4 conditions)")
    parser.add_argument("--vosk-model", help="also benchmark this Vosk model folder")
    parser.add_argument("--engines", default="pocketsphinx,vosk", help="engines to run when available")
    parser.add_argument("--json", default=str(ROOT / "docs/benchmarks/speech.json"))
    parser.add_argument("--markdown", default=str(ROOT / "docs/benchmarks.md"))
    parser.add_argument("--worker", choices=["pocketsphinx", "vosk"], help=argparse.SUPPRESS)
    parser.add_argument("--clips", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.worker:
        args.engine = args.worker
        worker(args)
        return

    from assistant.nlu.store import ensure_model
    from assistant.config import load_settings
    from assistant.nlu.runtime import Parser

    settings = load_settings(str(ROOT / "config.toml"))
    model = Path(args.model) if args.model else ensure_model(settings)
    items = commands(Parser(model).domain, args.n)
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        started = time.perf_counter()
        clips = synthesise(items, Path(tmp))
        log.info("%d clips synthesised in %.0f s", len(clips), time.perf_counter() - started)
        manifest = Path(tmp) / "clips.json"
        manifest.write_text(json.dumps(clips))
        wanted = args.engines.split(",")
        runs = []
        if "pocketsphinx" in wanted:
            runs.append(("pocketsphinx", None))
        vosk_model = args.vosk_model or (str(settings.path(settings.speech.vosk_model)) if settings.speech.vosk_model else None)
        if "vosk" in wanted and vosk_model:
            runs.append(("vosk", vosk_model))
        engines = []
        for engine, folder in runs:
            command = [sys.executable, __file__, "--worker", engine, "--clips", str(manifest), "--model", str(model)]
            if folder:
                command += ["--vosk-model", folder]
            log.info("running %s", engine)
            started = time.perf_counter()
            out = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if out.returncode != 0:
                raise SystemExit(f"{engine} worker failed:\n{out.stderr[-3000:]}")
            engines.append(json.loads(out.stdout.strip().splitlines()[-1]))
            log.info("%s done in %.0f s", engine, time.perf_counter() - started)
    parser = Parser(model)
    ceiling = []
    for item in items:
        result = parser.parse(item["text"])
        values = slot_values(result)
        ceiling.append(result.intent is not None and result.intent.name == item["intent"] and set(values) == set(item["values"])
                       and all(same(v, values.get(k)) for k, v in item["values"].items()))
    meta = {"commands": len(items), "clips": len(clips), "nlu_model": model.name,
            "nlu_acceptance_on_reference_text": round(100 * float(np.mean(ceiling)), 1),
            "audio_seconds_mean": round(float(np.mean([c["speech_seconds"] for c in clips])), 2),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d")}
    data, section = report(engines, meta)
    data["commands"] = items
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_markdown(section, Path(args.markdown))
    print(section)


if __name__ == "__main__":
    main()
