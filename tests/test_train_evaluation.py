"""Evaluation during training: metrics and TensorBoard, the best checkpoint marked and used as an
opponent (also after a resume), and a failing evaluation that does not stop training. The run is
conftest's `evaluated_run`."""
from __future__ import annotations

import numpy as np
import pytest

from shogi_jax.arena.elo import fit_elo
from shogi_jax.play.network import BEST_METRIC
from shogi_jax.train import checkpoint, run_directory
from shogi_jax.train.config import load_config
from shogi_jax.train.loop import _evaluate
from shogi_jax.train.periodic import TrainingEvaluator
from shogi_jax.train.run_directory import read_metrics


def test_evaluation_metrics_reach_jsonl_and_tensorboard(evaluated_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    records = read_metrics(evaluated_run)
    assert [r["iteration"] for r in records] == [1, 2, 3]
    for r in records:
        for opponent in ("random", "greedy"):
            outcome = [r[f"eval/vs_{opponent}/{x}"] for x in ("win", "draw", "loss")]
            assert sum(outcome) == pytest.approx(1.0)
    assert "eval/vs_best/win" not in records[0]  # no best before the first evaluation
    assert "eval/vs_best/win" in records[1]
    assert "eval/vs_best/win" in records[2]  # the best was restored on resume
    events = EventAccumulator(str(evaluated_run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("eval/elo")] == [1, 2, 3]


def test_the_evaluation_s_elo_is_the_fit_of_the_results_it_records(evaluated_run):
    """Each record's eval/elo, its 95% interval and greedy's Elo are the Elo fit (random = 0) of
    the results the same record gives: greedy against random (the calibration), and the network
    against random, greedy and the best so far (from its second evaluation), each over
    evaluation.games games. The fit itself is checked against scipy in test_elo."""
    games = load_config(evaluated_run / run_directory.CONFIG_FILE).evaluation.games
    for record in read_metrics(evaluated_run):
        names = ["random", "greedy", "current"] + (["best"] if "eval/vs_best/win" in record
                                                   else [])
        wins = np.zeros((len(names), len(names)), np.int64)
        draws = np.zeros_like(wins)
        for first, second, prefix in [(1, 0, "eval/greedy_vs_random"), (2, 0, "eval/vs_random"),
                                      (2, 1, "eval/vs_greedy"), (2, 3, "eval/vs_best")]:
            if second < len(names):
                won, drawn, lost = (round(record[f"{prefix}/{end}"] * games)
                                    for end in ("win", "draw", "loss"))
                assert won + drawn + lost == games, (record["iteration"], prefix)
                wins[first, second], wins[second, first] = won, lost
                draws[first, second] = draws[second, first] = drawn
        fit = fit_elo(names, wins, draws, "random")
        assert record["eval/elo"] == pytest.approx(fit.ratings[2])
        assert (record["eval/elo_ci95_low"], record["eval/elo_ci95_high"]) == pytest.approx(
            (fit.ci95_low[2], fit.ci95_high[2]))
        assert record["eval/greedy_elo"] == pytest.approx(fit.ratings[1])


def test_every_evaluation_keeps_its_games_as_kif_and_one_in_tensorboard(evaluated_run):
    import cshogi
    import cshogi.KIF
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    games_dir = evaluated_run / run_directory.EVAL_GAMES_DIR
    assert sorted(p.name for p in games_dir.iterdir()) == [
        "iteration_000001", "iteration_000002", "iteration_000003"]
    first = sorted(p.name for p in (games_dir / "iteration_000001").iterdir())
    assert first == [f"vs_{o}_{k:03d}.kifu" for o in ("greedy", "random") for k in range(4)]
    later = sorted(p.name for p in (games_dir / "iteration_000003").iterdir())
    assert [name for name in later if name.startswith("vs_best")] == [
        f"vs_best_{k:03d}.kifu" for k in range(4)]
    for path in (games_dir / "iteration_000003").iterdir():
        parsed = cshogi.KIF.Parser.parse_file(str(path))
        assert {parsed.names[0], parsed.names[1]} == {"current", path.stem.split("_")[1]}
        board = cshogi.Board()
        for move in parsed.moves:
            assert board.is_legal(move), path
            board.push(move)
        assert len(parsed.moves) > 0
    events = EventAccumulator(str(evaluated_run / "tensorboard"))
    events.Reload()
    texts = [tag for tag in events.Tags()["tensors"] if tag.startswith("eval/game_vs_")]
    assert {tag.split("/")[1] for tag in texts} == {"game_vs_random", "game_vs_greedy",
                                                    "game_vs_best"}


def test_evaluated_checkpoints_carry_their_elo(evaluated_run):
    config = load_config(evaluated_run / run_directory.CONFIG_FILE)
    manager = checkpoint.open_manager(evaluated_run, config)
    records = {r["iteration"]: r for r in read_metrics(evaluated_run)}
    steps = manager.all_steps()
    assert set(steps) <= {1, 2, 3} and 3 in steps
    for step in steps:
        assert manager.metrics(step)[BEST_METRIC] == pytest.approx(
            records[step]["eval/elo"])
    manager.close()


def test_the_best_checkpoint_is_the_network_the_evaluation_played_as_best(evaluated_run):
    """The last evaluation (after the resume, so its best came back from disk) played its games
    against "best" with the network of the checkpoint of the last earlier evaluation that set a
    new best: replayed by cshogi, every move of that side after the random opening is the argmax
    of that checkpoint's network, loaded as `--which best` loads one."""
    import cshogi
    import cshogi.KIF
    import jax

    import shogi_jax as sj
    from shogi_jax.play.network import load_network
    from shogi_jax.play.players import Player

    config = load_config(evaluated_run / run_directory.CONFIG_FILE)
    records = read_metrics(evaluated_run)
    last = records[-1]["iteration"]
    best_step = max(r["iteration"] for r in records
                    if r["iteration"] < last and r.get("eval/new_best") == 1.0)
    network = load_network(evaluated_run, step=best_step)
    act = jax.jit(Player("best", "policy", network.model).act)
    games = sorted((evaluated_run / run_directory.EVAL_GAMES_DIR
                    / f"iteration_{last:06d}").glob("vs_best_*.kifu"))
    checked = 0
    for path in games:
        parsed = cshogi.KIF.Parser.parse_file(str(path))
        best_color = parsed.names.index("best")
        board = cshogi.Board()
        for ply, move in enumerate(parsed.moves):
            if ply >= config.evaluation.random_opening_plies and board.turn == best_color:
                state = sj.from_sfen(board.sfen())
                played = sj.action_to_usi(state, int(act(network.params, state,
                                                         jax.random.PRNGKey(0))))
                assert played == cshogi.move_to_usi(move), (path.name, ply)
                checked += 1
            board.push(move)
    assert checked > 0


def test_a_failing_evaluation_is_logged_and_training_goes_on(capsys):
    """The guard the host loop calls evaluation through: a failure becomes a warning and no
    metrics (the loop then writes its training record and saves as usual)."""
    class Broken(TrainingEvaluator):
        def __init__(self):
            pass

        def evaluate(self, params, iteration):
            raise RuntimeError("no evaluation today")

    assert _evaluate(Broken(), params=None, iteration=7) is None
    assert "evaluation at iteration 7 failed (RuntimeError: no evaluation today); training " \
           "goes on" in capsys.readouterr().err


def test_the_elo_plot_script_draws_the_evaluations_of_a_run(evaluated_run, tmp_path):
    import subprocess
    import sys

    sys.path.insert(0, "scripts")
    try:
        from plot_elo import evaluation_records
    finally:
        sys.path.pop(0)
    records = evaluation_records(evaluated_run)
    assert [r["iteration"] for r in records] == [1, 2, 3]
    minutes = [r["minutes"] for r in records]
    assert 0 < minutes[0] < minutes[1] < minutes[2]  # wall clock, summed over the resume
    output = tmp_path / "elo.png"
    done = subprocess.run([sys.executable, "scripts/plot_elo.py", str(evaluated_run),
                           "--output", str(output)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_evaluation_can_play_the_network_through_its_search():
    """evaluation.simulations: the network (current and best) searches in the evaluation games;
    every move legal under cshogi, the metrics as with the raw policy."""
    import cshogi

    from shogi_jax.train.state import init_train_state, make_trainer

    config = load_config("configs/smoke.yaml", ["evaluation.simulations=4", "evaluation.games=2",
                                                "evaluation.max_plies=16"])
    params = init_train_state(config, make_trainer(config)).params
    evaluator = TrainingEvaluator(config)
    assert evaluator.player.search.simulations == 4
    assert evaluator.player.search.max_plies == 16
    metrics = evaluator.evaluate(params, 1)
    assert {"eval/elo", "eval/vs_random/win", "eval/vs_greedy/loss"} <= set(metrics)
    for _, games in evaluator.last_games:
        for start, moves in zip(games.start_sfens, games.moves):
            board = cshogi.Board(start)
            for move in moves:
                assert move in [cshogi.move_to_usi(m) for m in board.legal_moves]
                board.push_usi(move)
