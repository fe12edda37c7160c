"""Writing a file so that readers never see half of it.

Job states, home files and cached language models are read by other processes while they are being
replaced; a write into a temporary file in the same folder and an `os.replace` over the old one means
a reader sees the old content or the new, and a crash leaves the old file (and no temporary one).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Replace `path` with `content` (text is written as UTF-8) in one step; the folder must exist."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
