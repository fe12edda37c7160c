"""Speech to text on the device (Vosk, pocketsphinx), audio input, and audio to intents.

Import from here; the modules behind may move. Names load on first use, so the
CLI does not pay for numpy and the engines on commands that do not speak.
"""

from importlib import import_module

_EXPORTS = {
    "Audio": "audio", "AudioError": "audio", "load_audio": "audio", "from_pcm": "audio", "resample": "audio", "microphone": "audio",
    "EngineInfo": "engines", "Recognizer": "engines", "SpeechError": "engines", "Transcript": "engines", "WordTiming": "engines",
    "find_engines": "engines", "load_recognizer": "engines", "transcribe": "engines",
    "Pipeline": "pipeline", "RecognizeResult": "pipeline", "Timings": "pipeline", "load_pipeline": "pipeline", "listen": "pipeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"assistant.speech.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'assistant.speech' has no attribute {name!r}")
