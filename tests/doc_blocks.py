"""The fenced code blocks of README.md and docs/*.md, and how each is tested (tests/test_docs.py).

Every fence carries, on the line right before it, an HTML comment saying how it is tested:

    <!-- doc-test: run -->                run as written, in the quick tier
    <!-- doc-test: slow -->               run as written, in the slow tier (minutes)
    <!-- doc-test: needs fairy-stockfish -->, needs gnushogi, needs chromium
                                          run where the program is installed (marked engines or
                                          browser; add ", slow" for the slow tier), else skipped
    <!-- doc-test: needs gpu -->, needs tpu, needs cluster, long, install
                                          cannot run here (an accelerator, a cluster, a day of
                                          engine games, a package download): every module,
                                          script, config file and pip extra it names must exist,
                                          and its configs (with their --set) must validate
    <!-- doc-test: ci -->                 a test command: .ci/run runs exactly it, or it is the
                                          pyproject addopts command with its marker filter cleared
    <!-- doc-test: config -->             YAML: a training or tournament config that validates
    <!-- doc-test: output -->             what a command prints, or a picture: not run

Bash blocks run command by command (`bash -c`, `set -e`; a line ending in a backslash continues),
each with "quit" on its stdin (a USI engine answers it and exits), in one workspace shared by
all blocks in document order (README.md, then docs/*.md by name): a temporary directory that
links to the repository's files, so that what a command writes (runs/, tournaments/, launchers)
lands there, with HOME inside it. Python blocks run as a script in that workspace.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

RUN_TAGS = {"run", "slow"}
STATIC_TAGS = {"needs gpu", "needs tpu", "needs cluster", "long", "install"}
PROGRAMS = {  # needs X: the executable looked for, the pytest marker, how to install it
    "fairy-stockfish": (("fairy-stockfish", "/usr/games/fairy-stockfish"), "engines",
                        "apt-get install fairy-stockfish"),
    "gnushogi": (("gnushogi", "/usr/games/gnushogi"), "engines", "apt-get install gnushogi"),
    "chromium": (("chromium", "chromium-browser"), "browser",
                 "apt-get install chromium chromium-driver && pip install -e '.[browser]'"),
}
OTHER_TAGS = {"ci", "config", "output"}

_TAG = re.compile(r"<!--\s*doc-test:\s*(.*?)\s*-->")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")

# The Quick start's install, which CI performs itself (.ci/run): stripped before running the rest.
INSTALL_PREFIX = re.compile(
    r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install -e (\S+) && ")


@dataclasses.dataclass(frozen=True)
class Block:
    path: Path
    line: int          # 1-based line of the opening fence
    lang: str
    text: str
    tag: str | None    # the comment's words, None where the line before the fence has none

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def words(self) -> set[str]:
        return {word.strip() for word in (self.tag or "").split(",") if word.strip()}

    @property
    def program(self) -> str | None:
        """The X of `needs X` for a program we can look for, else None."""
        for word in self.words:
            if word.startswith("needs ") and word[6:] in PROGRAMS:
                return word[6:]
        return None


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1:end]]
        tag = _TAG.fullmatch(lines[i - 1].strip()) if i > 0 else None
        found.append(Block(path, i + 1, lang, "\n".join(body) + "\n",
                           tag.group(1) if tag else None))
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in DOC_FILES for block in blocks_of(path)]


def commands(text: str) -> list[str]:
    """The commands of a bash block: continued lines joined, blank and comment lines dropped."""
    joined, pending = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.strip().startswith("#"):
            joined.append(line.strip())
    return joined


def words_of(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def find_program(name: str) -> str | None:
    candidates, _, _ = PROGRAMS[name]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _pyproject_section(name: str) -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]


def pip_extras() -> set[str]:
    """The optional dependencies' names in pyproject.toml (read by hand: tomllib is 3.11+)."""
    return set(re.findall(r"^([\w-]+)\s*=", _pyproject_section("project.optional-dependencies"),
                          re.MULTILINE))


def pytest_addopts() -> str:
    return re.search(r'^addopts\s*=\s*"(.*)"', _pyproject_section("tool.pytest.ini_options"),
                     re.MULTILINE).group(1)


def ci_commands() -> list[str]:
    """The commands .ci/run runs, one a line, comments dropped."""
    return commands((ROOT / ".ci" / "run").read_text(encoding="utf-8"))


def make_workspace(directory: Path) -> Path:
    """A directory that links to every file at the repository's root (what commands read), so
    that what they write lands in it and not in the checkout."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name in {".git", ".venv", "runs", "tournaments"}:
            continue
        (directory / entry.name).symlink_to(entry)
    (directory / "home").mkdir()
    return directory


def _python_calls(words: list[str]):
    """(module or None, script or None, the arguments) for each `python ...` in one command."""
    for i, word in enumerate(words):
        if word not in {"python", "python3"}:
            continue
        rest = words[i + 1:]
        end = next((j for j, w in enumerate(rest) if w in {"&&", "||", "|", ";"}), len(rest))
        rest = rest[:end]
        if len(rest) >= 2 and rest[0] == "-m":
            yield rest[1], None, rest[2:]
        elif rest and rest[0].endswith(".py"):
            yield None, rest[0], rest[1:]


def _option_values(arguments: list[str], option: str) -> list[str]:
    values = []
    for i, word in enumerate(arguments):
        if word == option and i + 1 < len(arguments):
            values.append(arguments[i + 1])
        elif word.startswith(option + "="):
            values.append(word.split("=", 1)[1])
    return values


def check_names(command: str) -> list[str]:
    """What a command names that does not exist or does not validate: modules run with -m,
    scripts, --config files (loaded with their --set), pip extras. [] when all is well."""
    from shogi_jax.arena.tournament_config import load_tournament_config
    from shogi_jax.train.config import load_config

    problems = []
    words = words_of(command)
    extras = pip_extras()
    for i, word in enumerate(words):
        if word == "install" and i > 0 and words[i - 1] == "pip":
            for target in words[i + 1:]:
                match = re.fullmatch(r"\.\[([\w,]+)\]", target)
                for extra in match.group(1).split(",") if match else ():
                    if extra not in extras:
                        problems.append(f"pip extra {extra!r} is not in pyproject.toml")
    for module, script, arguments in _python_calls(words):
        if script is not None and not (ROOT / script).is_file():
            problems.append(f"script {script} does not exist")
        if module is not None and importlib.util.find_spec(module) is None:
            problems.append(f"module {module} does not exist")
        overrides = _option_values(arguments, "--set")
        for config in _option_values(arguments, "--config"):
            if config.isupper() or config.startswith(("RUN", "/")):
                continue  # a placeholder or a path on another machine
            if not (ROOT / config).is_file():
                problems.append(f"config {config} does not exist")
                continue
            # A tournament's runs are trained by the commands before it (the Quick start's).
            loader = (functools.partial(load_tournament_config, check_paths=False)
                      if module == "shogi_jax.tournament" else load_config)
            try:
                loader(ROOT / config, overrides)
            except ValueError as error:
                problems.append(f"{config} with {overrides}: {error}")
    return problems
