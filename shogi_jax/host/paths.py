"""The path layer: every directory a run, a tournament or a report reads or writes is an
`etils.epath.Path` (the path type Orbax uses), a local path or an object store URL:

    gs://BUCKET/PATH   Google Cloud Storage, through gcsfs      (pip install gcsfs)
    s3://BUCKET/PATH   S3 and S3-compatible stores, through s3fs (pip install s3fs); the store's
                       address from $AWS_ENDPOINT_URL where set, credentials as boto3 finds them

`served_path` turns a command line's text into a path and refuses (PathNotServed, before
anything is written) a scheme it cannot serve: an unknown one, a missing client library, a
store that cannot be reached with the credentials at hand. pathlib would turn `gs://b/r` into the
local folder `gs:/b/r`; nothing here makes a local folder of a URL.

An object store has no rename and no append: a file there is written whole by one upload, which
is atomic (readers see the old object or the new one), and appending rewrites the object
(`AppendedFile`).
"""
from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import time
import urllib.parse
from pathlib import Path

from etils import epath

from shogi_jax.host.settings import ConfigError

# scheme: (the Python module that serves it, the pip package that provides it)
REMOTE_SCHEMES = {"gs": ("gcsfs", "gcsfs"), "s3": ("s3fs", "s3fs")}


_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")  # RFC 3986's scheme, then //


class PathNotServed(ConfigError):
    """A path this machine cannot read or write (refused input: nothing was written)."""


def scheme_of(path: str | os.PathLike[str]) -> str | None:
    """'gs', 's3', ... for a URL; None for a local path."""
    match = _URL_SCHEME.match(os.fspath(path))
    return match.group(1).lower() if match else None


def is_remote(path: str | os.PathLike[str]) -> bool:
    return scheme_of(path) is not None


def as_path(path: str | os.PathLike[str]) -> epath.Path:
    """`path` as an epath.Path, without checks (see `served_path`). A local path stays as
    written (relative ones are read from the working directory)."""
    if isinstance(path, epath.Path):
        return path
    return epath.Path(os.fspath(path))


def served_path(path: str | os.PathLike[str], *, what: str, reach: bool = True) -> epath.Path:
    """`path` as an epath.Path, refused (PathNotServed, naming `what`) where this machine cannot
    serve it: an unknown scheme, a missing client library, and with `reach` a bucket that does
    not answer (no credentials, no such bucket, no network)."""
    scheme = scheme_of(path)
    if scheme is None:
        return as_path(path)
    if scheme not in REMOTE_SCHEMES:
        raise PathNotServed(f"{what} '{path}': the scheme {scheme}:// is not served (local paths, "
                            f"{', '.join(f'{s}://' for s in REMOTE_SCHEMES)})")
    module, package = REMOTE_SCHEMES[scheme]
    if importlib.util.find_spec(module) is None:
        raise PathNotServed(f"{what} '{path}': {scheme}:// needs the {package} package "
                            f"(pip install {package}, or pip install 'shogi_jax[cloud]')")
    result = as_path(path)
    if reach:
        bucket = as_path(f"{scheme}://{urllib.parse.urlsplit(os.fspath(path)).netloc}")
        try:
            next(iter(bucket.iterdir()), None)  # a listing, unlike exists(), raises what failed
        except FileNotFoundError:
            raise PathNotServed(f"{what} '{path}': no bucket {bucket}") from None
        except Exception as error:  # noqa: BLE001 (credentials, network: the client's own words)
            raise PathNotServed(f"{what} '{path}': the store cannot be reached "
                                f"({type(error).__name__}: {error})") from None
    return result


def absolute(path: str | os.PathLike[str]) -> epath.Path:
    """`path` made absolute: a URL as it is, a local path resolved (Orbax wants absolute paths;
    a launcher must name the same directory from anywhere)."""
    path = as_path(path)
    return path if path.is_absolute() else path.resolve()


def local_path(path: str | os.PathLike[str]) -> Path:
    """A local path as a pathlib.Path; ValueError for a URL (for the few things only a local
    file can do: a subprocess's working directory, a browser's file:// page)."""
    if is_remote(path):
        raise ValueError(f"'{path}' is not a local path")
    return Path(os.fspath(path))


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Writes `text` (UTF-8) to `path` whole or not at all: `path` holds its old contents or the
    whole new text, never a part. Locally through a temporary file renamed over `path`; on an
    object store one upload does that by itself."""
    if is_remote(path):
        as_path(path).write_text(text, encoding="utf-8")
        return
    path = Path(os.fspath(path))
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


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Appends `text` to `path` (made if missing). On an object store the object is read and
    written again whole: for files appended rarely (once a session)."""
    path = as_path(path)
    if is_remote(path):
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(before + text, encoding="utf-8")
        return
    with open(os.fspath(path), "a", encoding="utf-8") as file:
        file.write(text)


class AppendedFile:
    """A file written a piece at a time (metrics.jsonl, TensorBoard's event files). Locally an
    open file, flushed at every `flush()`. On an object store the contents are kept here and the
    object rewritten whole, at most once every `remote_flush_seconds` unless
    `flush(force=True)` (a checkpoint, the end): each rewrite uploads the whole file."""

    def __init__(self, path: str | os.PathLike[str], initial: str | bytes = "", *,
                 remote_flush_seconds: float = 30.0):
        """Starts the file with `initial` (what is kept from before; empty makes it empty);
        its type, str or bytes, is the type `write` takes."""
        self.path = as_path(path)
        self.remote = is_remote(self.path)
        self._binary = isinstance(initial, bytes)
        self._remote_flush_seconds = remote_flush_seconds
        self.closed = False
        if self.remote:
            self._pieces = [initial]
            self._flushed_at = None
            self.flush(force=True)
        else:
            if self._binary:
                Path(os.fspath(self.path)).write_bytes(initial)
            else:
                write_text_atomically(self.path, initial)
            self._file = open(os.fspath(self.path), "ab" if self._binary else "a",
                              **({} if self._binary else {"encoding": "utf-8"}))

    def write(self, piece: str | bytes) -> None:
        if self.remote:
            self._pieces.append(piece)
        else:
            self._file.write(piece)

    def flush(self, *, force: bool = False) -> None:
        if not self.remote:
            self._file.flush()
            return
        now = time.monotonic()
        due = self._flushed_at is None or now - self._flushed_at >= self._remote_flush_seconds
        if force or due:
            whole = (b"" if self._binary else "").join(self._pieces)
            self._pieces = [whole]
            if self._binary:
                self.path.write_bytes(whole)
            else:
                self.path.write_text(whole, encoding="utf-8")
            self._flushed_at = now

    def close(self) -> None:
        if self.closed:
            return
        if self.remote:
            self.flush(force=True)
        else:
            self._file.close()
        self.closed = True
