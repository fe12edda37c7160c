"""The one error type of the intent-file boundary.

Whoever writes intent files reads these messages in a terminal or an editor's
problem list, so each is a single `path:line: message` line that tools such as
VS Code and vim quickfix turn into a jump to the offending line.
"""

from __future__ import annotations

from assistant.errors import AssistantError


class IntentFileError(AssistantError):
    """A problem in an intent file (or dataset folder), located by path and line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = str(path)
        """File (or folder) the problem is in, as it was given to the loader."""
        self.line = line
        """1-based line number, or None when the problem has no single line (an empty folder)."""
        self.message = " ".join(str(message).split())
        """What is wrong, on one line."""
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"
