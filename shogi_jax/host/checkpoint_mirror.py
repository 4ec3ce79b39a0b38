"""Orbax checkpoints in a store Orbax cannot write: a local mirror, copied step by step.

Orbax writes gs:// itself (TensorStore's GCS driver), but not s3:// in the version we pin: its
array writer builds only `file` and `gcs` stores. For such a run directory the checkpoints are
written by Orbax to a local mirror of RUN_DIR/checkpoints, and each finished step is then
uploaded, file by file, with Orbax's own completion mark (`commit_success.txt`, what Orbax writes
on GCS, which has no rename either) uploaded last. A step without the mark is incomplete: a
reader ignores it, the next upload replaces it. The store is the truth: on opening, the mirror
drops what the store does not hold and fetches what it lacks, so a job resumed on another
machine (an empty mirror) or after a crash mid-upload goes on from the last complete step.

The writer's mirror lives in the cache (`mirror_root`), one per remote directory (a run has one
writer). A reader (a tournament, the USI engine, a report) fetches into a temporary directory of
its own, so it never disturbs a writer's mirror on the same machine.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from etils import epath

from shogi_jax.host.paths import as_path, is_remote, scheme_of

ORBAX_SCHEMES = frozenset({"gs"})  # object stores Orbax writes itself
COMMIT_FILE = "commit_success.txt"  # Orbax's mark of a complete step on an object store
_TOKENS = "mirrored_steps.json"  # beside the local checkpoints: {step: the mark's token}


def needs_mirror(checkpoint_dir: str | os.PathLike[str]) -> bool:
    """Whether checkpoints at `checkpoint_dir` go through a local mirror (a remote scheme Orbax
    does not write itself)."""
    scheme = scheme_of(checkpoint_dir)
    return scheme is not None and scheme not in ORBAX_SCHEMES


def mirror_root() -> Path:
    """Where writers' mirrors live: $SHOGI_JAX_CACHE_DIR/checkpoints, by default
    ~/.cache/shogi_jax/checkpoints."""
    cache = os.environ.get("SHOGI_JAX_CACHE_DIR") or Path.home() / ".cache" / "shogi_jax"
    return Path(cache) / "checkpoints"


def complete_steps(checkpoint_dir: str | os.PathLike[str]) -> dict[int, str]:
    """{step: its completion token} of the complete steps at `checkpoint_dir`: locally every
    step-named directory (Orbax renames a step there once written); on an object store only
    those holding COMMIT_FILE (Orbax's mark on gs://, the mirror's on s3://)."""
    directory = as_path(checkpoint_dir)
    if not directory.is_dir():
        return {}
    steps = {}
    for entry in directory.iterdir():
        if not entry.name.isdigit():
            continue
        if not is_remote(directory):
            steps[int(entry.name)] = ""
        elif (entry / COMMIT_FILE).exists():
            steps[int(entry.name)] = (entry / COMMIT_FILE).read_text()
    return steps


class CheckpointMirror:
    """A local directory that Orbax reads and writes (`local`), kept equal to the remote one
    (`remote`) in its complete steps by `pull` and `push`."""

    def __init__(self, remote: str | os.PathLike[str], local: str | os.PathLike[str] | None = None):
        self.remote = as_path(remote)
        if local is None:
            key = hashlib.sha256(os.fspath(self.remote).encode()).hexdigest()[:16]
            local = mirror_root() / key / "checkpoints"
        self.local = Path(local)

    def pull(self) -> None:
        """Makes the local steps the remote's complete steps: drops local steps the remote does
        not hold (or holds as another save), fetches the missing ones."""
        self.local.mkdir(parents=True, exist_ok=True)
        remote = complete_steps(self.remote)
        tokens = self._tokens()
        for entry in self.local.iterdir():
            step = int(entry.name) if entry.name.isdigit() else None
            if step not in remote or remote[step] != tokens.get(step):
                _remove(entry)  # also Orbax's temporaries from a save cut short
                tokens.pop(step, None)
        for step, token in sorted(remote.items()):
            if not (self.local / str(step)).exists():
                fetching = self.local / f".{step}.fetching"
                _remove(fetching)
                _copy_tree(self.remote / str(step), as_path(fetching), skip=COMMIT_FILE)
                fetching.rename(self.local / str(step))
                tokens[step] = token
        self._save_tokens(tokens)

    def push(self) -> None:
        """Makes the remote steps the local ones: deletes remote steps the local mirror no
        longer holds (Orbax's retention), uploads new ones, each marked complete last."""
        local = {int(entry.name) for entry in self.local.iterdir() if entry.name.isdigit()}
        remote = complete_steps(self.remote)
        tokens = self._tokens()
        for step in sorted(set(remote) - local):
            (self.remote / str(step) / COMMIT_FILE).unlink()  # incomplete from here on
            self.remote.joinpath(str(step)).rmtree()
        for step in sorted(local):
            if step in remote and remote[step] == tokens.get(step):
                continue
            target = self.remote / str(step)
            if target.exists():  # an upload cut short, or another save of this step
                if (target / COMMIT_FILE).exists():
                    (target / COMMIT_FILE).unlink()
                target.rmtree()
            _copy_tree(as_path(self.local / str(step)), target, skip=COMMIT_FILE)
            token = uuid.uuid4().hex
            (target / COMMIT_FILE).write_text(token)
            tokens[step] = token
        self._save_tokens(tokens)

    def _tokens(self) -> dict[int, str]:
        path = self.local.parent / _TOKENS
        if not path.exists():
            return {}
        return {int(step): token for step, token in json.loads(path.read_text()).items()}

    def _save_tokens(self, tokens: dict[int, str]) -> None:
        (self.local.parent / _TOKENS).write_text(json.dumps({str(k): v for k, v in tokens.items()}))


@contextlib.contextmanager
def readable_checkpoints(checkpoint_dir: str | os.PathLike[str]):
    """A directory Orbax can read holding the complete checkpoints at `checkpoint_dir`: the
    directory itself, or for a mirrored store a temporary local copy (deleted afterwards)."""
    if not needs_mirror(checkpoint_dir):
        yield as_path(checkpoint_dir)
        return
    with tempfile.TemporaryDirectory(prefix="shogi_jax_checkpoints_") as temporary:
        mirror = CheckpointMirror(checkpoint_dir, Path(temporary) / "checkpoints")
        mirror.pull()
        yield as_path(mirror.local)


def _copy_tree(source: epath.Path, target: epath.Path, *, skip: str | None = None) -> None:
    """Copies the files under `source` to `target`, file by file (an object store has no
    directories to copy); `skip`: a file name at the top to leave out."""
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        elif entry.name != skip:
            target.mkdir(parents=True, exist_ok=True)
            (target / entry.name).write_bytes(entry.read_bytes())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
