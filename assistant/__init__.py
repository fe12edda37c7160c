"""On-device voice-assistant intent service.

Public surface: `Parser` (a loaded model: text to `ParseResult`), the result
schema, `AssistantError` (the base of every error a caller can act on) and
`ModelLoadError`. Imported lazily so that `import assistant` stays cheap and
never pulls in onnxruntime before it is needed. The layers behind it are
described in docs/architecture.md.
"""

__all__ = ["Parser", "ParseResult", "Entity", "IntentScore", "AssistantError", "ModelLoadError", "__version__"]

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
    if name == "AssistantError":
        from assistant.errors import AssistantError

        return AssistantError
    if name == "ModelLoadError":
        from assistant.nlu.errors import ModelLoadError

        return ModelLoadError
    raise AttributeError(name)
