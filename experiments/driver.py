"""What the experiment drivers share: run a command of the project (or print it, under
--dry-run), and read the JSON-lines files the project writes.

The drivers use the project only through its command lines (`python -m shogi_jax.train`,
`python -m shogi_jax.tournament`, `python -m shogi_jax.usi`, `python -m shogi_jax.report`,
`python scripts/*.py`), never its modules, so they keep working while the package moves.
"""
from __future__ import annotations

import gzip
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class Runner:
    """Runs commands from the repository root, or prints them (`$ ...`) when dry."""

    def __init__(self, dry_run: bool):
        self.dry_run = dry_run

    def say(self, text: str) -> None:
        print(text, flush=True)

    def run(self, argv, *, cwd: Path | None = None, env: dict | None = None,
            append_to: Path | None = None, write_to: Path | None = None,
            append: bool = False, tail: int | None = None, tee: bool = False,
            with_stderr: bool = False, check: bool = True, ok: tuple[int, ...] = (0,)) -> str:
        """Runs argv (a list) in cwd (the repository root by default) and returns its output
        when it is kept ('' when dry). append_to takes stdout and stderr (`>> LOG 2>&1`);
        write_to takes stdout (`> FILE`; `>> FILE` with append), printed too with tee (`| tee
        FILE`); tail keeps the
        last lines only (`| tail -n N`), printed; with_stderr adds stderr (`2>&1`). With check,
        an exit code outside `ok` ends the driver."""
        argv = [str(a) for a in argv]
        shown = shlex.join(argv)
        if env:
            shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shown
        if cwd is not None and Path(cwd) != REPO:
            shown = f"cd {shlex.quote(str(cwd))} && {shown}"
        if with_stderr:
            shown += " 2>&1"
        if append_to is not None:
            shown += f" >> {shlex.quote(str(append_to))} 2>&1"
        if tail is not None:
            shown += f" | tail -n {tail}"
        if write_to is not None:
            how = " | tee " if tee or tail is not None else " >> " if append else " > "
            shown += how + shlex.quote(str(write_to))
        if self.dry_run:
            print(f"$ {shown}", flush=True)
            return ""
        full_env = {**os.environ, **(env or {})}
        where = str(cwd or REPO)
        out = ""
        if append_to is not None:
            with open(append_to, "a", encoding="utf-8") as log:
                done = subprocess.run(argv, check=False, cwd=where, env=full_env,
                                      stdout=log, stderr=subprocess.STDOUT)
        elif tail is not None or write_to is not None:
            done = subprocess.run(argv, check=False, cwd=where, env=full_env,
                                  stdout=subprocess.PIPE, text=True,
                                  stderr=subprocess.STDOUT if with_stderr else None)
            out = done.stdout
            if tail is not None:
                out = "".join(out.splitlines(keepends=True)[-tail:])
            if tee or tail is not None:
                print(out, end="", flush=True)
            if write_to is not None:
                with open(write_to, "a" if append else "w", encoding="utf-8") as file:
                    file.write(out)
        else:
            done = subprocess.run(argv, check=False, cwd=where, env=full_env)
        if check and done.returncode not in ok:
            sys.exit(f"command failed (exit {done.returncode}): {shown}")
        return out

    def write(self, path: Path, text: str) -> None:
        """Writes a file the commands read (a tournament's YAML); when dry, says so."""
        if self.dry_run:
            print(f"# would write {path}:", flush=True)
            print("".join(f"#   {line}\n" for line in text.splitlines()), end="", flush=True)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (gzipped when its name ends in .gz), blank lines
    skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def absolute(path: str | Path) -> Path:
    """PATH made absolute against the repository root (a relative argument means the root's,
    wherever the driver was started)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO / path
