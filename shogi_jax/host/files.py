"""Files written whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Writes `text` (UTF-8) to `path` through a temporary file in the same directory, renamed
    over `path` once it is complete and on disk: `path` holds its old contents or the whole new
    text, never a part, and nothing is left behind on failure."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes the file private; these are for reading
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
