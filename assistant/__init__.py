"""On-device voice-assistant intent service.

Public surface: `Parser` (a loaded model: text to `ParseResult`), the result
schema, and `ModelLoadError`. Imported lazily so that `import assistant` stays
cheap and never pulls in onnxruntime before it is needed.
"""

__all__ = ["Parser", "ParseResult", "Entity", "IntentScore", "ModelLoadError", "__version__"]

try:
    from importlib.metadata import version as _version

    __version__ = _version("assistant")
except Exception:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    if name == "Parser":
        from assistant.nlu.runtime import Parser

        return Parser
    if name in ("ParseResult", "Entity", "IntentScore"):
        from assistant.nlu import result

        return getattr(result, name)
    if name == "ModelLoadError":
        from assistant.nlu.bundle import ModelLoadError

        return ModelLoadError
    raise AttributeError(name)
