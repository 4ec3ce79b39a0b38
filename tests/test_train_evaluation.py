"""Evaluation during training: metrics and TensorBoard, the ladder Elo, the best checkpoint kept
by the head-to-head rule and used as an opponent (also after a resume), Fairy-Stockfish's rungs
(marked engines) or the warning where it is missing, and a failing evaluation that does not stop
training. The run is conftest's `evaluated_run`."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import EVALUATED_RUN

from shogi_jax.arena import ladder
from shogi_jax.arena.elo import CI95_Z, performance_rating
from shogi_jax.arena.ladder import ladder_rating
from shogi_jax.arena.match import DRAW, FIRST_WINS, SECOND_WINS, MatchGames
from shogi_jax.cli import train as train_cli
from shogi_jax.play.network import BEST_METRIC
from shogi_jax.train import checkpoint, loop, run_directory
from shogi_jax.train.config import load_config
from shogi_jax.train.loop import _evaluate
from shogi_jax.train.periodic import GREEDY, NETWORK, RANDOM, Best, TrainingEvaluator, beats_best
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


def _recorded(record: dict, prefix: str, games: int) -> tuple[int, int, int]:
    """(W, D, L) of a match from a record's shares of it."""
    won, drawn, lost = (round(record[f"{prefix}/{end}"] * games) for end in ("win", "draw", "loss"))
    assert won + drawn + lost == games, (record.get("iteration"), prefix)
    return won, drawn, lost


def test_the_evaluation_s_elo_is_the_ladder_rating_of_the_results_it_records(evaluated_run):
    """Each record's eval/elo, its 95% interval and its bound are the ladder rating (random 0,
    greedy 407) of the results against the rungs the same record gives, each over
    evaluation.games games (the run plays no engine). The rating itself is checked in
    test_ladder."""
    games = load_config(evaluated_run / run_directory.CONFIG_FILE).evaluation.games
    for record in read_metrics(evaluated_run):
        results = {rung: _recorded(record, f"eval/vs_{rung}", games)
                   for rung in ("random", "greedy")}
        rating = ladder_rating(results)
        expected = {"eval/elo": rating.elo, "eval/elo_ci95_low": rating.ci95_low,
                    "eval/elo_ci95_high": rating.ci95_high, "eval/elo_bound": rating.bound,
                    "eval/elo_games": 2 * games}
        for key, value in expected.items():  # metrics.jsonl writes infinities as text
            assert record[key] == (pytest.approx(value) if np.isfinite(value)
                                   else repr(float(value))), (record["iteration"], key)
        assert "eval/greedy_elo" not in record  # greedy is an anchor now, at its ladder Elo


def test_every_record_keeps_the_best_by_the_head_to_head_rule(evaluated_run):
    """The first evaluation makes the first best; each later one replaces it exactly when the
    current network won more games than it lost against it, and each new best ranks one above
    the one it replaced (what `--which best` reads)."""
    games = load_config(evaluated_run / run_directory.CONFIG_FILE).evaluation.games
    records = read_metrics(evaluated_run)
    assert records[0]["eval/new_best"] == 1.0 and records[0]["eval/best_rank"] == 1.0
    for before, record in zip(records, records[1:]):
        won, _, lost = _recorded(record, "eval/vs_best", games)
        assert record["eval/new_best"] == float(won > lost), record["iteration"]
        assert record["eval/best_rank"] == before["eval/best_rank"] + record["eval/new_best"]


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
                                                "evaluation.max_plies=16",
                                                "evaluation.engine_rungs=[]"])
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


def test_the_default_rungs_rate_a_network_in_their_range_within_100_elo():
    """At the default settings (evaluation.games against random and greedy, engine_games against
    each engine rung), the 95% interval of the results the logistic model expects is within
    +-100 for a network from 0 to 1300 Elo (docs/training.md), and widens past the top rung."""
    evaluation = load_config("configs/cpu.yaml").evaluation
    rungs = ("random", "greedy") + evaluation.engine_rungs
    games = np.array([evaluation.games] * 2 + [evaluation.engine_games] * len(
        evaluation.engine_rungs), float)
    elo = np.array([ladder.RUNGS[name].elo for name in rungs])

    def half_width(true_elo):
        expected = games / (1 + 10 ** ((elo - true_elo) / 400))
        rating, stderr = performance_rating(elo, expected, 0 * games, games - expected)
        assert rating == pytest.approx(true_elo)
        return CI95_Z * stderr

    assert max(half_width(elo) for elo in range(0, 1301, 100)) < 100
    assert half_width(1600) > 150


# --- the best by the head-to-head rule, on made-up results ----------------------------------------


def _games(wins: int, draws: int, losses: int) -> MatchGames:
    """A match with these results for its first player (colours alternating, no moves)."""
    outcome = np.array([FIRST_WINS] * wins + [DRAW] * draws + [SECOND_WINS] * losses, np.int32)
    count = len(outcome)
    return MatchGames(np.arange(count) % 2 == 0, ["startpos"] * count, [[] for _ in outcome],
                      outcome, np.full(count, -1, np.int32), np.zeros(count, np.int32))


class _Scripted(TrainingEvaluator):
    """The evaluator with its on-device matches replaced by given results (W-D-L of the current
    network) against random, greedy and the best."""

    def __init__(self, config, best, results):
        super().__init__(config, best)
        self.results = results

    def _match(self, first_kind, first_params, second_kind, second_params, key):
        assert first_kind == NETWORK
        return _games(*self.results[{RANDOM: "random", GREEDY: "greedy",
                                     NETWORK: "best"}[second_kind]])


def _params(value: float):
    import jax.numpy as jnp

    return {"w": jnp.full(3, value)}


@pytest.mark.parametrize("head_to_head", [(16, 14, 2), (15, 16, 1)])
def test_a_network_that_beats_the_best_head_to_head_replaces_it(head_to_head):
    """Issue 52's case: at iterations 600 and 750 of seed 0's bar run the current network beat
    the kept best 16-14-2 and 15-16-1 (W-D-L) and did not replace it, because the best's Elo came
    from another fit. Now the match decides, whatever the two ratings."""
    config = load_config("configs/smoke.yaml", ["evaluation.engine_rungs=[]"])
    best = Best(_params(1.0), rank=3.0, elo=2421.0)  # rated far above the current network
    evaluator = _Scripted(config, best, {"random": (30, 2, 0), "greedy": (20, 2, 10),
                                         "best": head_to_head})
    metrics = evaluator.evaluate(_params(2.0), 600)
    assert beats_best(_games(*head_to_head))
    assert metrics["eval/elo"] < 2421.0
    assert metrics["eval/new_best"] == 1.0 and metrics["eval/best_rank"] == 4.0
    assert metrics["eval/best_elo"] == metrics["eval/elo"]
    assert float(evaluator.best.params["w"][0]) == 2.0
    wins, draws, losses = head_to_head
    assert f"vs best {wins}-{draws}-{losses}: new best" in evaluator.last_summary


@pytest.mark.parametrize("head_to_head", [(14, 2, 16), (10, 12, 10), (0, 32, 0)])
def test_a_network_that_does_not_beat_the_best_leaves_it(head_to_head):
    """Level or behind head to head (draws count half each way), the best stays, however high
    the current network's own rating."""
    config = load_config("configs/smoke.yaml", ["evaluation.engine_rungs=[]"])
    evaluator = _Scripted(config, Best(_params(1.0), rank=1.0, elo=100.0),
                          {"random": (32, 0, 0), "greedy": (31, 0, 1), "best": head_to_head})
    metrics = evaluator.evaluate(_params(2.0), 10)
    assert metrics["eval/elo"] > 100.0
    assert metrics["eval/new_best"] == 0.0 and metrics["eval/best_rank"] == 1.0
    assert metrics["eval/best_elo"] == 100.0 and float(evaluator.best.params["w"][0]) == 1.0
    assert "the best stays" in evaluator.last_summary


def test_a_resumed_run_from_before_the_rank_ranks_its_next_best_above_the_old_one():
    """An old run's bests ranked by their Elo (1741 here): the next best ranks above it, so
    Orbax's best is the evaluator's best after the resume too."""
    old = Best.of_checkpoint({"eval/elo": 1741.0, "eval/new_best": 1.0}, _params(1.0))
    assert old.rank == 1741.0 and old.elo == 1741.0
    config = load_config("configs/smoke.yaml", ["evaluation.engine_rungs=[]"])
    evaluator = _Scripted(config, old, {"random": (30, 2, 0), "greedy": (20, 2, 10),
                                        "best": (16, 14, 2)})
    assert evaluator.evaluate(_params(2.0), 1000)["eval/best_rank"] == 1742.0


def test_without_fairy_stockfish_the_evaluation_says_so_once(monkeypatch, capsys):
    """The engine rungs are skipped where the program is missing, with one warning (naming the
    install command), not one per evaluation; the Elo then rests on random and greedy."""
    monkeypatch.setattr(ladder, "find_engine", lambda command: None)
    config = load_config("configs/smoke.yaml")
    assert config.evaluation.engine_rungs  # the default plays some
    evaluator = _Scripted(config, None, {"random": (30, 2, 0), "greedy": (20, 2, 10),
                                         "best": (1, 0, 0)})
    for iteration in (1, 2):
        metrics = evaluator.evaluate(_params(float(iteration)), iteration)
    err = capsys.readouterr().err
    assert err.count("warning") == 1
    assert "fairy-stockfish is not installed (apt-get install fairy-stockfish)" in err
    assert "ladder Elo comes from random and greedy alone" in err
    assert metrics["eval/elo_games"] == 64
    assert not [key for key in metrics if "fairy" in key]
    assert "ladder Elo" in evaluator.last_summary
    assert "against random 0 (30-2-0), greedy 407 (20-2-10)" in evaluator.last_summary


def test_an_engine_that_cannot_start_is_left_out_and_the_evaluation_goes_on(tmp_path, capsys):
    """A program that is there but is no engine (it exits at once): its rungs are left out with
    a warning naming them, and the rating rests on the games that were played."""
    not_an_engine = tmp_path / "not-an-engine"
    not_an_engine.write_text("#!/bin/sh\nexit 3\n")
    not_an_engine.chmod(0o755)
    config = load_config("configs/smoke.yaml", [
        f"evaluation.engine_command={not_an_engine}", "evaluation.engine_games=2",
        "evaluation.engine_rungs=[fairy_skill-5_d1]"])
    evaluator = _Scripted(config, None, {"random": (30, 2, 0), "greedy": (20, 2, 10)})
    assert [engine.name for engine in evaluator.engines] == ["fairy_skill-5_d1"]
    metrics = evaluator.evaluate(_params(1.0), 1)
    assert "warning: fairy_skill-5_d1 left out of this evaluation" in capsys.readouterr().err
    assert metrics["eval/elo_games"] == 64 and metrics["eval/new_best"] == 1.0
    assert [name for name, _ in evaluator.last_games] == ["random", "greedy"]


@pytest.mark.engines
@pytest.mark.skipif(ladder.find_engine() is None,
                    reason="Fairy-Stockfish is not installed: apt-get install fairy-stockfish")
def test_the_evaluation_plays_fairy_stockfish_rungs_where_installed():
    """Real Fairy-Stockfish at depth 1 (two rungs, two games each) beside random and greedy: the
    games are legal, each rung's results are recorded, and the Elo is the ladder rating of all
    of them."""
    import cshogi

    from shogi_jax.train.state import init_train_state, make_trainer

    config = load_config("configs/smoke.yaml", [
        "evaluation.games=2", "evaluation.max_plies=24", "evaluation.engine_games=2",
        "evaluation.engine_rungs=[fairy_skill-5_d1, fairy_skill-1_d1]",
        "evaluation.engine_concurrency=2"])
    params = init_train_state(config, make_trainer(config)).params
    evaluator = TrainingEvaluator(config)
    metrics = evaluator.evaluate(params, 1)
    rungs = ("random", "greedy", "fairy_skill-5_d1", "fairy_skill-1_d1")
    assert [name for name, _ in evaluator.last_games] == list(rungs)
    results = {rung: _recorded(metrics, f"eval/vs_{rung}", 2) for rung in rungs}
    assert metrics["eval/elo"] == pytest.approx(ladder_rating(results).elo)
    assert metrics["eval/elo_games"] == 8
    assert "fairy_skill-5_d1 456" in evaluator.last_summary
    for _, games in evaluator.last_games:
        assert len(games.moves) == 2
        for start, moves in zip(games.start_sfens, games.moves):
            board = cshogi.Board() if start == "startpos" else cshogi.Board(start)
            for move in moves:
                assert move in [cshogi.move_to_usi(m) for m in board.legal_moves]
                board.push_usi(move)


@pytest.mark.slow
def test_the_console_says_when_it_compiles_evaluates_and_saves(tmp_path, monkeypatch, capsys):
    """Not quiet: a line before the compilation, and the progress bar labelled with what the
    loop does while it stands still (evaluating, saving), then training again."""
    labels = []
    real_progress_bar = loop.progress_bar

    def recording_bar(*args, **kwargs):
        bar = real_progress_bar(*args, **kwargs)
        real_set = bar.set_description_str
        bar.set_description_str = lambda text, **kw: (labels.append(text), real_set(text, **kw))
        return bar

    monkeypatch.setattr(loop, "progress_bar", recording_bar)
    arguments = [a for a in EVALUATED_RUN if a != "--quiet"]
    assert train_cli.main(arguments + ["--run-dir", str(tmp_path / "run"),
                                       "--set", "train.iterations=2",
                                       "--set", "checkpoint.every_iterations=2"]) == 0
    err = capsys.readouterr().err
    assert err.index("compiling the iteration ...") < err.index("compiled the iteration in")
    # An evaluated iteration is also saved (its checkpoint carries the Elo).
    assert labels == ["evaluating at 1", "saving 1", "training", "evaluating at 2", "saving 2",
                      "training"]
