"""The one base of every error a user or a client can act on.

Each stage raises its own kind (`IntentFileError`, `ModelLoadError`,
`AudioError`, ...), all `AssistantError`s whose message says what is wrong and
what to do. Each boundary maps the base once: the CLI prints the message as one
line and exits with status 2, the REST API answers JSON with a 4xx/5xx status
(`assistant.server.errors`), the daemon sends an `error` event. Any other
exception is a bug of ours: it is logged with its traceback and reported as an
internal error, never as the caller's fault.
"""


class AssistantError(Exception):
    """A problem with the input, the configuration or the environment; the message is for people."""
