"""The experiment drivers (experiments/*/run.py): --help works, bad input is named, and
--dry-run prints the project's command lines, naming configs and files that exist. Nothing is
trained or played."""
from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
DRIVERS = {
    "ablation": ["experiments/ablation/run.py", "OUT"],
    "ablation_gauntlet": ["experiments/ablation/run.py", "OUT", "--rows", "fixes",
                          "--phases", "train", "keep", "gauntlet"],
    "learning_bar": ["experiments/learning_bar/run.py", "OUT/run", "--fsf", sys.executable],
    "usi_bar": ["experiments/learning_bar/usi_bar.py", "shogi_jax/pretrained/cpu_60min", "OUT"],
    "shogiarena": ["experiments/shogiarena/run.py", "OUT", "--opponent", "greedy"],
    "value_targets": ["experiments/value_targets/run.py", "OUT"],
    "pgx_alphazero": ["experiments/pgx_alphazero/run.py", "OUT"],
}
# The entry points a driver may use: the project's command lines, never its modules.
ENTRY_POINTS = {"shogi_jax.train", "shogi_jax.tournament", "shogi_jax.usi", "shogi_jax.report",
                "cshogi.cli"}


def run_driver(argv, tmp_path, *extra):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    return subprocess.run([sys.executable, *argv, *extra], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def commands(stdout: str) -> list[list[str]]:
    """The command lines a dry run printed (`$ ...`), each cut at its first pipe or
    redirection, after any `cd DIR &&` and VAR=value prefix."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("$ "):
            continue
        words = shlex.split(line[2:])
        if "&&" in words:
            words = words[words.index("&&") + 1:]
        words = [w for w in words if "=" not in w or w.startswith("-")]
        for stop in ("|", ">", ">>", "2>&1"):
            if stop in words:
                words = words[:words.index(stop)]
        found.append(words)
    return found


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_a_dry_run_prints_commands_whose_files_exist(name, tmp_path):
    done = run_driver(DRIVERS[name], tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    printed = commands(done.stdout)
    assert printed, done.stdout
    for words in printed:
        if words[0] == "git":
            continue
        if "-m" in words[:2]:
            assert words[words.index("-m") + 1] in ENTRY_POINTS, words
        named = [w for w in words[1:] if w.endswith((".yaml", ".py", ".jsonl.gz"))
                 and not w.startswith(str(tmp_path))]
        for word in named:
            assert (REPO / word).is_file(), f"{name}: {word} does not exist ({words})"
    assert not (tmp_path / "out").exists(), "a dry run wrote something"


def test_the_dry_runs_name_the_configs_they_train_and_rate_with(tmp_path):
    ablation = run_driver(DRIVERS["ablation"], tmp_path, "--dry-run").stdout
    for used in ("configs/cpu.yaml", "configs/cpu_az.yaml", "scripts/ladder_elo.py",
                 "docs/ladder_games/ladder_pass2_low.jsonl.gz"):
        assert used in ablation, used
    # The rows' budgets come from the kept speed.json: equal wall clock at their speed.
    assert "== pool from iteration 0 to 444" in ablation
    assert "== az from iteration 0 to 517" in ablation
    bar = run_driver(DRIVERS["learning_bar"], tmp_path, "--dry-run").stdout
    assert "configs/cpu.yaml" in bar and "experiments/learning_bar/usi_bar.py" in bar
    usi = run_driver(DRIVERS["usi_bar"], tmp_path, "--dry-run", "--fsf",
                     sys.executable).stdout
    assert "--options2 'Skill Level:0,Threads:1'" in usi and "--byoyomi 1000 50" in usi


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_help(name, tmp_path):
    done = run_driver([DRIVERS[name][0]], tmp_path, "--help")
    assert done.returncode == 0 and "--dry-run" in done.stdout, done.stderr


@pytest.mark.parametrize("argv, message", [
    (["experiments/ablation/run.py", "--rows", "bogus"], "--rows: unknown 'bogus'"),
    (["experiments/ablation/run.py", "--phases", "fly"], "--phases: unknown 'fly'"),
    (["experiments/ablation/run.py", "--iterations", "0"], "--iterations must be at least 1"),
    (["experiments/learning_bar/run.py", "--train-limit=train.iterations=2"], "--train-limit"),
    (["experiments/learning_bar/usi_bar.py", "no/such/run", "OUT"], "no/such/run"),
    (["experiments/shogiarena/run.py", "OUT", "--games", "3"], "--games must be even"),
    (["experiments/pgx_alphazero/run.py", "OUT", "--rungs", "gnushogi_d1"],
     "--rungs: unknown 'gnushogi_d1'"),
    (["experiments/pgx_alphazero/run.py", "OUT", "--train-args", "fast"], "--train-args"),
])
def test_bad_input_is_named(argv, message, tmp_path):
    done = run_driver(argv, tmp_path)
    assert done.returncode != 0 and message in done.stderr, done.stderr


def test_pgx_alphazero_plays_the_ladder_rungs_as_rated(tmp_path):
    """The gauntlet run.py writes has the ladder's rules and each rung as configs/ladder.yaml
    has it, or the ladder's Elo does not apply."""
    from shogi_jax.arena.tournament_config import load_tournament_config

    done = run_driver(DRIVERS["pgx_alphazero"], tmp_path, "--dry-run")
    lines = done.stdout.splitlines()
    start = lines.index(f"# would write {tmp_path / 'out' / 'ladder.yaml'}:")
    written = [line[4:] for line in lines[start + 1:] if line.startswith("#   ")]
    (tmp_path / "ladder.yaml").write_text("\n".join(written) + "\n", encoding="utf-8")
    config = load_tournament_config(tmp_path / "ladder.yaml")
    ladder = {p.name: p for p in load_tournament_config(REPO / "configs" / "ladder.yaml").players}
    hub, *rungs = config.players
    assert (config.pairing, hub.name, hub.kind) == ("gauntlet", "pgx_az", "usi")
    assert config.max_plies == 320 and config.random_opening_plies == 4
    assert [rung.name for rung in rungs] == ["random", "greedy", "fairy_skill-5_d1",
                                            "fairy_skill-4_d1"]
    for rung in rungs:  # the same settings, the USI options in any order
        assert dataclasses.replace(rung, options=tuple(sorted(rung.options))) == \
            dataclasses.replace(ladder[rung.name],
                                options=tuple(sorted(ladder[rung.name].options))), rung.name
