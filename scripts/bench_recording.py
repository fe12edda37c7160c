"""Recording conditions: the product's speech path on clips recorded as people's are, not as a benchmark's are.

    python scripts/bench_recording.py              # 40 commands, writes docs/benchmarks/recording.json
    python scripts/bench_recording.py --n 60 --engines pocketsphinx --conditions base,phone-8k

`bench_speech.py` varies the noise; the recording is otherwise ideal (full
level, 16 kHz, a quarter second of silence around the command). Here each
command (sampled from the domain's templates, said by flite, festival and
espeak-ng voices) is heard as it might come from a phone, a laptop or a
far microphone: 30 and 40 dB quieter, clipped, with a DC offset, with a room's
reverberation, through a telephone band at 8 kHz, as 44.1 kHz stereo, spoken
30 % faster, behind 2 s of faint hiss, and inside 1.5 s of pink noise or other
voices (babble) at 18, 12 and 6 dB SNR before and after it (an utterance
endpointed late, a television on). Every clip goes through `Pipeline.recognize_audio`
as `assistant recognize` runs it, for each engine of `--engines` as the product
loads it (Whisper with pocketsphinx behind it; pocketsphinx alone), domain mode.

Per condition: `accepted` (intent and every canonical value right), `wrong`
(acted on with a wrong intent or value), `latency_p50_ms`. Needs espeak-ng,
flite, festival (festvox-us-slt-hts) and sox.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_speech import active_power, babble, commands, pink, read16k, right, say
from benchlib import ROOT, machine

SEED = 777
VOICES = [("flite", "slt"), ("flite", "rms"), ("flite", "awb"), ("festival", "cmu_us_slt_arctic_hts"), ("espeak-ng", "en-us+m3")]
RATE = 16000
LEAD = 1.5
"""Seconds of noise before and after the command in the `lead-*` conditions."""

log = logging.getLogger("bench_recording")


def sox(source: Path, target: Path, *effects: str) -> None:
    subprocess.run(["sox", str(source), str(target), *effects], check=True, capture_output=True, timeout=60)


def conditions(crowd: np.ndarray, rng: np.random.Generator) -> dict[str, Callable[[np.ndarray, Path, Path], None]]:
    """Each condition: (speech at 16 kHz, the plain clip's path, where to write) -> the clip as recorded."""
    import soundfile

    def samples(make: Callable[[np.ndarray], np.ndarray]):
        def write(speech, plain, target):
            soundfile.write(target, np.clip(make(speech), -32768, 32767).astype(np.int16), RATE)
        return write

    def effect(*effects: str):
        return lambda speech, plain, target: sox(plain, target, *effects)

    def padded(speech: np.ndarray, seconds: float = 0.25) -> np.ndarray:
        return np.concatenate([np.zeros(int(seconds * RATE)), speech, np.zeros(int(seconds * RATE))])

    def lead(kind: str, snr: int):
        def make(speech):
            clip = padded(speech, LEAD)
            if kind == "babble":
                at = int(rng.integers(0, len(crowd) - len(clip)))
                noise = crowd[at : at + len(clip)].copy()
            else:
                noise = pink(len(clip), rng)
            return clip + noise / np.sqrt(np.mean(noise**2)) * np.sqrt(active_power(speech) / 10 ** (snr / 10))
        return samples(make)

    def hiss(speech):
        clip = padded(speech, 2.0)
        return clip + rng.normal(0, 1, len(clip)) * np.sqrt(active_power(speech) / 10**3)

    found = {
        "base": samples(padded),
        "quiet-30dB": samples(lambda s: padded(s) * 10 ** (-30 / 20)),
        "quiet-40dB": samples(lambda s: padded(s) * 10 ** (-40 / 20)),
        "clipped+12dB": samples(lambda s: padded(s) * 4),
        "dc-offset": samples(lambda s: padded(s) + 3000),
        "reverb": effect("reverb", "50", "50", "80"),
        "phone-8k": effect("rate", "8000", "sinc", "300-3400"),
        "44k-stereo": effect("rate", "44100", "channels", "2"),
        "fast-1.3x": effect("tempo", "1.3"),
        "2s-silence-hiss-30dB": samples(hiss),
    }
    for snr in (18, 12, 6):
        found[f"lead-pink-{snr}dB"] = lead("pink", snr)
        found[f"lead-babble-{snr}dB"] = lead("babble", snr)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="NLU model folder (default: the current version of the store, trained on first use)")
    parser.add_argument("--n", type=int, default=40, help="commands (each in every condition)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--conditions", help="comma-separated names (default: all)")
    parser.add_argument("--engines", default="whisper,pocketsphinx", help="engines to run, each as `speech.engine`")
    parser.add_argument("--json", default=str(ROOT / "docs/benchmarks/recording.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)

    from assistant.config import load_settings
    from assistant.nlu.runtime import Parser
    from assistant.nlu.store import ensure_model
    from assistant.speech.audio import load_audio
    from assistant.speech.service import Service, SpeechOptions

    settings = load_settings(str(ROOT / "config.toml"))
    model = Path(args.model).resolve() if args.model else ensure_model(settings).resolve()
    settings.nlu.model = model
    items = commands(Parser(model).domain, args.n, args.seed)
    pipelines = {engine: Service(settings, SpeechOptions(required=True, engine=engine, mode="domain")).start().pipeline
                 for engine in args.engines.split(",")}
    rng = np.random.default_rng(args.seed)
    rows: dict[str, dict[str, list[dict]]] = {engine: {} for engine in pipelines}
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        folder = Path(tmp)
        made = conditions(babble(folder, seed=args.seed), rng)
        wanted = args.conditions.split(",") if args.conditions else list(made)
        unknown = set(wanted) - set(made)
        if unknown:
            raise SystemExit(f"unknown conditions {sorted(unknown)}; known: {', '.join(made)}")
        for k, item in enumerate(items):
            plain = folder / f"{k}.wav"
            say(*VOICES[k % len(VOICES)], item["text"], plain)
            speech = read16k(plain)
            for name in wanted:
                target = folder / f"{k}-{name}.wav"
                made[name](speech, plain, target)
                for engine, pipeline in pipelines.items():
                    started = time.perf_counter()
                    result = pipeline.recognize_audio(load_audio(target))
                    ok = right(result, item)
                    rows[engine].setdefault(name, []).append({"accepted": ok, "wrong": result.intent is not None and not ok,
                                                              "ms": (time.perf_counter() - started) * 1000})
            log.info("%d/%d commands", k + 1, len(items))
    engines = {}
    for engine, pipeline in pipelines.items():
        engines[engine] = {"model": pipeline.recognizer.model, "second": pipeline.second.engine if pipeline.second is not None else None,
                           "conditions": {name: {"accepted": round(100 * float(np.mean([r["accepted"] for r in rs])), 1),
                                                 "wrong": round(100 * float(np.mean([r["wrong"] for r in rs])), 1),
                                                 "latency_p50_ms": round(float(np.median([r["ms"] for r in rs])), 1)}
                                          for name, rs in rows[engine].items()}}
    data = {"meta": {"commands": len(items), "seed": args.seed, "nlu_model": model.name, "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                     "command": " ".join(["python scripts/bench_recording.py", *sys.argv[1:]])},
            "engines": engines}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    names = list(pipelines)
    print("| condition | " + " | ".join(f"{e}: accepted % / wrong % / p50 ms" for e in names) + " |")
    print("| --- |" + " --- |" * len(names))
    for name in next(iter(engines.values()))["conditions"]:
        cells = [engines[e]["conditions"][name] for e in names]
        print(f"| {name} | " + " | ".join(f"{c['accepted']} / {c['wrong']} / {c['latency_p50_ms']:.0f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
