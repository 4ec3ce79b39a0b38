"""Docs that are true: every fenced code block of README.md and docs/*.md is tested as its tag
says (tests/doc_blocks.py lists the tags), and a block without a tag fails."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from doc_blocks import (
    INSTALL_PREFIX,
    OTHER_TAGS,
    PROGRAMS,
    ROOT,
    RUN_TAGS,
    STATIC_TAGS,
    all_blocks,
    check_names,
    ci_commands,
    commands,
    find_program,
    make_workspace,
    pytest_addopts,
)

BLOCKS = all_blocks()
COMMAND_TIMEOUT_S = {"run": 120, "slow": 1200}


def _marks(block):
    marks = []
    if "slow" in block.words:
        marks.append(pytest.mark.slow)
    if block.program is not None:
        marks.append(getattr(pytest.mark, PROGRAMS[block.program][1]))
    return marks


def _params(wanted):
    return [pytest.param(block, id=block.name, marks=_marks(block))
            for block in BLOCKS if wanted(block)]


def _is_run(block):
    return bool(block.words & RUN_TAGS) or block.program is not None


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("docs") / "workspace")


def _environment(workspace):
    env = dict(os.environ)
    env["HOME"] = str(workspace / "home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def test_every_block_says_how_it_is_tested():
    known = RUN_TAGS | STATIC_TAGS | OTHER_TAGS | {f"needs {name}" for name in PROGRAMS}
    untagged = [block.name for block in BLOCKS if block.tag is None]
    unknown = [f"{block.name}: {sorted(block.words - known)}" for block in BLOCKS
               if block.tag is not None and not block.words <= known]
    assert not untagged, f"no <!-- doc-test: ... --> line before: {untagged}"
    assert not unknown, f"unknown doc-test tags: {unknown}"
    assert len(BLOCKS) > 10  # the parser found the blocks at all


@pytest.mark.parametrize("block", _params(_is_run))
def test_block_runs(block, workspace):
    if block.program is not None and find_program(block.program) is None:
        pytest.skip(f"{block.program} is not installed: {PROGRAMS[block.program][2]}")
    timeout = COMMAND_TIMEOUT_S["slow" if "slow" in block.words else "run"]
    env = _environment(workspace)
    if block.lang == "python":
        script = workspace / "home" / "doc_block.py"
        script.write_text(block.text, encoding="utf-8")
        result = subprocess.run([sys.executable, str(script)], cwd=workspace, env=env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{block.name}:\n{block.text}\n{result.stderr[-3000:]}"
        return
    assert block.lang in {"bash", "sh"}, f"{block.name}: cannot run a {block.lang!r} block"
    for command in commands(block.text):
        install = INSTALL_PREFIX.match(command)
        if install:  # the Quick start's install: CI performs it (checked below); run the rest
            command = command[install.end():]
        result = subprocess.run(["bash", "-c", "set -e\n" + command], cwd=workspace, env=env,
                                input="quit\n", capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, (f"{block.name}: {command}\n{result.stdout[-2000:]}\n"
                                        f"{result.stderr[-3000:]}")


@pytest.mark.parametrize("block", _params(lambda block: bool(block.words & STATIC_TAGS)
                                          or _is_run(block)))
def test_named_modules_scripts_and_configs_exist(block):
    """Also for the blocks that run: a missing config is named here before minutes are spent."""
    problems = [f"{command}: {problem}" for command in commands(block.text)
                for problem in check_names(command)]
    assert not problems, f"{block.name}: {problems}"


@pytest.mark.parametrize("block", _params(lambda block: any(
    INSTALL_PREFIX.match(command) for command in commands(block.text))))
def test_quick_start_install_is_what_ci_does(block):
    ci = ci_commands()
    assert "python3 -m venv .venv" in ci and ". .venv/bin/activate" in ci
    for command in commands(block.text):
        install = INSTALL_PREFIX.match(command)
        if install:
            target = install.group(1).strip("\"'")
            ci_install = [c for c in ci if c.startswith("pip install")]
            assert ci_install, ".ci/run installs nothing"
            ci_target = ci_install[0].split()[-1].strip("\"'")
            assert target in {".", ci_target}, f"{block.name}: {target} vs .ci/run's {ci_target}"


@pytest.mark.parametrize("block", _params(lambda block: "ci" in block.words))
def test_test_commands_are_what_ci_runs(block):
    for command in commands(block.text):
        install = INSTALL_PREFIX.match(command)
        if install:
            command = command[install.end():]
        if command in ci_commands():  # the full tier, which .ci/run runs
            continue
        # The quick tier: the same command with addopts' marker filter in force.
        assert command == "python -m pytest -q", f"{block.name}: .ci/run never runs {command}"
        assert 'python -m pytest -q -m ""' in ci_commands(), ".ci/run no longer runs the full tier"
        assert pytest_addopts().startswith("-m "), "addopts no longer filters by marker"


@pytest.mark.parametrize("block", _params(lambda block: "config" in block.words))
def test_config_blocks_validate(block):
    from shogi_jax.arena.tournament_config import tournament_config_from_dict
    from shogi_jax.host.settings import parse_yaml
    from shogi_jax.train.config import config_from_dict

    raw = parse_yaml(block.text)
    (tournament_config_from_dict if "players" in raw else config_from_dict)(raw)
