"""Engine-match speed: games against a USI engine with the on-device side's moves kept in step
(`play_engine_match(device_in_step=True)`, what tournaments play: a game may wait a tick to
start, so one batched device call every other tick serves every running game) against games
started as soon as a slot is free (False, the simple way: the device is called on nearly every
tick, but engines think while it does), in plies per second.

The on-device side is the shipped 60-minute network (shogi_jax/pretrained/cpu_60min): its raw
policy (argmax) and a Gumbel MuZero search of S simulations, loaded as tournaments load them. The
engine: our greedy USI engine (`python -m shogi_jax.usi --player greedy`, a Python process) and,
where it is installed, Fairy-Stockfish at depth 1 with Skill Level -5 (configs/ladder.yaml's
lowest rung, as rated there). G games, C at once,
4 random opening plies, at most M plies. Seconds count from the first tick (engines started, a
warm-up match compiled the device's programs) to the last game's end; `device calls` is how
many batched calls the on-device side made.

    python scripts/bench_engine_match.py                     # G=32, C=8, M=256
    python scripts/bench_engine_match.py --players policy --engines greedy --games 8
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

import jax
from bench_common import machine_info, machine_line, markdown_table

from shogi_jax.arena import engine_match
from shogi_jax.arena.engine_match import EnginePlayer, play_engine_match
from shogi_jax.arena.match import MatchStopped
from shogi_jax.arena.tournament import load_player
from shogi_jax.arena.tournament_config import PlayerConfig, load_tournament_config
from shogi_jax.arena.usi_client import MoveLimit
from shogi_jax.play.players import Player

ROOT = Path(__file__).resolve().parents[1]
LADDER = ROOT / "configs" / "ladder.yaml"
FAIRY_RUNG = "fairy_skill-5_d1"
FAIRY = "/usr/games/fairy-stockfish"
OPENING_PLIES = 4
WARM_UP_TICKS = 12  # past the opening plies: the device and the opening player have both acted


def _device_player(kind: str, simulations: int, max_plies: int):
    """(Player, params): the shipped network as a tournament's `policy` or `search` player."""
    spec = (PlayerConfig(name="policy", kind="policy", pretrained=True) if kind == "policy"
            else PlayerConfig(name=f"search{simulations}", kind="search", pretrained=True,
                              simulations=simulations))
    loaded = load_player(spec, max_plies=max_plies)
    return loaded.player, loaded.params


def _engine(name: str) -> EnginePlayer:
    # Our USI engine compiles its player when it starts: on a busy machine, C of them side by
    # side take longer than a tournament's default minute.
    if name == "greedy":
        return EnginePlayer("greedy_usi", (sys.executable, "-m", "shogi_jax.usi", "--player",
                                           "greedy"), MoveLimit(depth=1), startup_timeout=600)
    rung = next(p for p in load_tournament_config(LADDER).players if p.name == FAIRY_RUNG)
    return dataclasses.replace(load_player(rung).player, startup_timeout=600)


class _CountingDevice:
    """Counts the on-device side's batched calls (not the random opening player's)."""

    def __init__(self, player: Player):
        self.player, self.calls = player, 0
        self._act_batch = engine_match._act_batch

    def __enter__(self):
        def counted(player, *args):
            self.calls += player == self.player
            return self._act_batch(player, *args)

        engine_match._act_batch = counted
        return self

    def __exit__(self, *exc):
        engine_match._act_batch = self._act_batch


def measure(device: Player, params, engine: EnginePlayer, *, games: int, concurrency: int,
            max_plies: int, in_step: bool) -> dict:
    """One match of `games` games, the device side first (Black in even games)."""
    first_tick = []

    def note_first_tick():
        if not first_tick:
            first_tick.append(time.perf_counter())
        return False

    with _CountingDevice(device) as counter:
        played = play_engine_match(device, params, engine, None, games=games,
                                   key=jax.random.PRNGKey(0), max_plies=max_plies,
                                   opening_plies=OPENING_PLIES, concurrency=concurrency,
                                   should_stop=note_first_tick, device_in_step=in_step)
        seconds = time.perf_counter() - first_tick[0]
    plies = sum(len(moves) for moves in played.moves)
    return {"plies": plies, "seconds": seconds, "calls": counter.calls}


def warm_up(device: Player, params, engine: EnginePlayer, *, concurrency: int,
            max_plies: int) -> None:
    """Compiles the device's and the rules' programs for C slots: a match stopped after a few
    ticks."""
    ticks = []

    def stop_soon():
        ticks.append(1)
        return len(ticks) > WARM_UP_TICKS

    try:
        play_engine_match(device, params, engine, None, games=concurrency,
                          key=jax.random.PRNGKey(1), max_plies=max_plies,
                          opening_plies=OPENING_PLIES, concurrency=concurrency,
                          should_stop=stop_soon)
    except MatchStopped:
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", nargs="+", choices=("policy", "search"),
                        default=["policy", "search"])
    parser.add_argument("--engines", nargs="+", choices=("greedy", "fairy"),
                        default=["greedy", "fairy"])
    parser.add_argument("--games", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-plies", type=int, default=256)
    parser.add_argument("--simulations", type=int, default=32)
    args = parser.parse_args(argv)
    if args.games <= 0 or args.games % 2:
        parser.error(f"--games must be even and > 0, got {args.games}")
    if args.concurrency < 2 or args.concurrency % 2:
        parser.error(f"--concurrency must be even and >= 2 (the warm-up plays C games), "
                     f"got {args.concurrency}")
    engines = list(args.engines)
    if "fairy" in engines and not shutil.which(FAIRY):
        print(f"{FAIRY} is not installed (apt-get install fairy-stockfish): fairy skipped",
              flush=True)
        engines.remove("fairy")
    print(machine_line(machine_info()), flush=True)
    rows = []
    for kind in args.players:
        device, params = _device_player(kind, args.simulations, args.max_plies)
        for engine_name in engines:
            engine = _engine(engine_name)
            warm_up(device, params, engine, concurrency=args.concurrency,
                    max_plies=args.max_plies)
            result = {}
            for in_step in (True, False):
                result[in_step] = measure(device, params, engine, games=args.games,
                                          concurrency=args.concurrency,
                                          max_plies=args.max_plies, in_step=in_step)
                r = result[in_step]
                print(f"{device.name} vs {engine.name}, {'in step' if in_step else 'as free'}: "
                      f"{r['plies']:,} plies in {r['seconds']:.1f} s = "
                      f"{r['plies'] / r['seconds']:.1f} plies/s, {r['calls']:,} device calls",
                      flush=True)
            fast, simple = (result[s]["plies"] / result[s]["seconds"] for s in (True, False))
            rows.append([device.name, engine.name, str(args.games), str(args.concurrency),
                         f"{fast:,.1f}", f"{result[True]['calls']:,}", f"{simple:,.1f}",
                         f"{result[False]['calls']:,}", f"{fast / simple:.2f}x"])
    print()
    print("\n".join(markdown_table(
        ["device side", "engine", "G", "C", "in step: plies/s", "device calls",
         "as free: plies/s", "device calls", "ratio"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
