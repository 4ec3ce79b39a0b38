"""Makes the fixed position sets of the learning probes, once; its output is committed under
scripts/data and scripts/data/README.md says how and when it was made.

- value_probe.jsonl.gz (scripts/value_probe.py): positions 3 to 60 plies before the end of
  decisive games, each with the result for the side to move (+1 it wins, -1 it loses) and the
  plies left; a few positions a game, drawn with the seed, so that no game dominates.
- top1.jsonl.gz (scripts/top1_agreement.py): one position a game of other games, any ply (every
  phase), each with Fairy-Stockfish's move from a deep search (`go nodes N`, one thread, its hash
  cleared before each position, so the answer repeats) and its score.
- mate_in_one.jsonl.gz (scripts/mate_probe.py): one position a game of further games, drawn among
  those where the side to move has a mate in one, each with all its mating moves: every legal
  move tried on cshogi's board (its `mate_move_in_1ply` assumes the mover is not in check, and
  answers illegal moves when it is), and the same set found by our rules
  (`play.tactics.winning_actions`).

The games are the engine-against-engine games kept in the repository (the ladder's; both players
Fairy-Stockfish or GNU Shogi, never random, greedy or a network), shuffled with the seed and
dealt to one set each; no position (board, hands and side to move) is in two rows. Every position
is checked with our rules: not over, and the same number of legal moves as cshogi's.

    python scripts/probe_positions.py                   # all three sets (the search ~17 minutes)
    python scripts/probe_positions.py --sets value mate # those two only (no engine needed)
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import cshogi
import jax
import numpy as np
from bench_common import machine_info, machine_line
from probe_common import DATA, positions_in_chunks, write_set

import shogi_jax as sj
from shogi_jax.arena.usi_client import MoveLimit, UsiClient
from shogi_jax.notation.records import read_games
from shogi_jax.play.tactics import winning_actions
from shogi_jax.rules.state import DEFAULT_MAX_PLIES

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (*sorted((ROOT / "docs" / "ladder_games").glob("ladder_pass2_*.jsonl.gz")),
           ROOT / "experiments" / "learning_bar" / "bar_on_ladder.jsonl.gz")
ENGINE_PREFIXES = ("fairy", "gnushogi")
SETS = {"value": "value_probe.jsonl.gz", "top1": "top1.jsonl.gz", "mate": "mate_in_one.jsonl.gz"}
VALUE_PLIES = (3, 60)  # plies to the game's end of a value position, both ends included
MAX_MOVE_NUMBER = 400  # positions past it are left out (the rules' move limit is 512)


def is_engine(name: str) -> bool:
    return name.startswith(ENGINE_PREFIXES)


def engine_games(sources=SOURCES) -> list[dict]:
    """The records of games between two engines, each game once (the same moves from the same
    start are one game), with "source" (the file's name) added."""
    games, seen = [], set()
    for source in sources:
        for record in read_games([source]):
            identity = (record["start_sfen"], tuple(record["moves"]))
            if is_engine(record["black"]) and is_engine(record["white"]) and identity not in seen:
                seen.add(identity)
                games.append({**record, "source": Path(source).name})
    return games


def position_key(sfen: str) -> str:
    """A position without its move number: board, side to move, hands."""
    return " ".join(sfen.split()[:3])


def game_positions(record: dict) -> list[str]:
    """The SFEN before every move of a game and after the last (len(moves) + 1)."""
    board = cshogi.Board(record["start_sfen"]) if record["start_sfen"] != "startpos" \
        else cshogi.Board()
    sfens = [board.sfen()]
    for move in record["moves"]:
        board.push_usi(move)
        sfens.append(board.sfen())
    return sfens


def move_number(sfen: str) -> int:
    return int(sfen.split()[3])


def origin(record: dict, ply: int) -> dict:
    return {"source": record["source"], "game": record.get("game"), "black": record["black"],
            "white": record["white"], "ply": ply}


def value_rows(record: dict, rng, per_game: int, seen: set) -> list[dict]:
    """Up to `per_game` positions 3-60 plies before the end of one decisive game."""
    sfens = game_positions(record)
    plies = len(record["moves"])
    winner = 0 if record["result"] == "black_win" else 1
    # The game ended by checkmate: the side to move after the last move is the loser.
    if record["termination"] != "checkmate" or cshogi.Board(sfens[-1]).turn == winner:
        raise ValueError(f"{record['source']} game {record.get('game')}: {record['result']} by "
                         f"{record['termination']} is not a mate of the side to move")
    candidates = [ply for ply in range(max(0, plies - VALUE_PLIES[1]), plies - VALUE_PLIES[0] + 1)
                  if move_number(sfens[ply]) <= MAX_MOVE_NUMBER]
    rows = []
    for ply in rng.permutation(candidates)[:per_game]:
        ply = int(ply)
        if position_key(sfens[ply]) in seen:
            continue
        seen.add(position_key(sfens[ply]))
        to_move = cshogi.Board(sfens[ply]).turn
        rows.append({"sfen": sfens[ply], "result": 1 if to_move == winner else -1,
                     "plies_to_end": plies - ply, **origin(record, ply)})
    return rows


def top1_row(record: dict, rng, seen: set, tries: int = 10) -> dict | None:
    """One position of a game, any ply before its last move, not seen before."""
    sfens = game_positions(record)
    plies = [ply for ply in range(len(record["moves"]))
             if move_number(sfens[ply]) <= MAX_MOVE_NUMBER]
    for ply in rng.permutation(plies)[:tries]:
        ply = int(ply)
        if position_key(sfens[ply]) not in seen:
            seen.add(position_key(sfens[ply]))
            return {"sfen": sfens[ply], "plies_to_end": len(record["moves"]) - ply,
                    **origin(record, ply)}
    return None


def mating_moves(sfen: str) -> list[str]:
    """Every legal move of the position that checkmates (tried one by one on cshogi's board)."""
    board = cshogi.Board(sfen)
    found = []
    for move in board.legal_moves:
        board.push(move)
        if board.is_game_over():
            found.append(cshogi.move_to_usi(move))
        board.pop()
    return sorted(found)


def mate_row(record: dict, rng, seen: set) -> dict | None:
    """One position of a game where the side to move has a mate in one, drawn among all such."""
    sfens = game_positions(record)
    mates = {ply: mating_moves(sfens[ply]) for ply in range(len(record["moves"]))
             if move_number(sfens[ply]) <= MAX_MOVE_NUMBER
             and position_key(sfens[ply]) not in seen}
    plies = [ply for ply, found in mates.items() if found]
    if not plies:
        return None
    ply = int(rng.choice(plies))
    seen.add(position_key(sfens[ply]))
    played, mates = record["moves"][ply], mates[ply]
    return {"sfen": sfens[ply], "mates": mates, "played": played,
            "played_mates": played in mates, "plies_to_end": len(record["moves"]) - ply,
            **origin(record, ply)}


def deal(games: list[dict], *, seed: int, value_positions: int, value_per_game: int,
         top1_positions: int, mate_positions: int) -> dict[str, list[dict]]:
    """The rows of the three sets: the games shuffled and dealt in turn to the value set (decisive
    games only), the top-1 set and the mate set, until each has its count; every set's rows then
    shuffled, so that a prefix is a fair sample."""
    order = np.random.default_rng(seed).permutation(len(games))
    # A generator a set: one set's draws never move another's.
    rngs = {name: np.random.default_rng([seed, k]) for k, name in enumerate(SETS, 1)}
    seen: set[str] = set()
    rows = {name: [] for name in SETS}
    wanted = {"value": value_positions, "top1": top1_positions, "mate": mate_positions}
    for index in order:
        record = games[int(index)]
        if len(rows["value"]) < wanted["value"]:
            if record["result"] in ("black_win", "white_win"):
                rows["value"] += value_rows(record, rngs["value"], value_per_game, seen)
        elif len(rows["top1"]) < wanted["top1"]:
            rows["top1"] += filter(None, [top1_row(record, rngs["top1"], seen)])
        elif len(rows["mate"]) < wanted["mate"]:
            rows["mate"] += filter(None, [mate_row(record, rngs["mate"], seen)])
        else:
            break
    for name, count in wanted.items():
        shuffled = rngs[name].permutation(len(rows[name]))
        rows[name] = [rows[name][int(i)] for i in shuffled][:count]
        if len(rows[name]) < count:
            print(f"warning: {name}: {len(rows[name])} positions, fewer than the {count} asked "
                  "(too few games)", file=sys.stderr)
    return rows


# --- checks with our rules ------------------------------------------------------------------------


def check_with_our_rules(rows: list[dict], with_mates: bool = False) -> None:
    """Every position is on (not over by our rules) with cshogi's number of legal moves; with
    `with_mates`, our rules' mates in one are the row's "mates". SystemExit naming a position
    that differs."""
    sfens = [row["sfen"] for row in rows]
    wins = jax.jit(jax.vmap(lambda s: winning_actions(s, max_plies=DEFAULT_MAX_PLIES,
                                                      impasse=True)))
    done = 0
    for states, _, count in positions_in_chunks(sfens):
        over = np.asarray(states.terminated | states.truncated)[:count]
        legal = np.asarray(states.legal_action_mask)[:count]
        mates = np.asarray(wins(states))[:count] if with_mates else None
        for i in range(count):
            sfen = sfens[done + i]
            if over[i] or legal[i].sum() != len(list(cshogi.Board(sfen).legal_moves)):
                raise SystemExit(f"error: our rules and cshogi disagree on {sfen}")
            if with_mates:
                state = jax.tree_util.tree_map(lambda x: x[i], states)
                ours = sorted(sj.action_to_usi(state, a) for a in np.nonzero(mates[i])[0])
                if ours != rows[done + i]["mates"]:
                    raise SystemExit(f"error: mates in one of {sfen}: ours {ours}, cshogi's "
                                     f"{rows[done + i]['mates']}")
        done += count


# --- Fairy-Stockfish's deep move ------------------------------------------------------------------


def score_of(info_lines: list[str]) -> dict:
    """{"depth": d, "cp": x} or {"depth": d, "mate": n} from the last `info` line with a score
    (USI: `score cp X` or `score mate N`, maybe followed by lowerbound/upperbound)."""
    for line in reversed(info_lines):
        words = line.split()
        if words[:1] == ["info"] and "score" in words:
            at = words.index("score")
            kind, value = words[at + 1], int(words[at + 2])
            depth = int(words[words.index("depth") + 1]) if "depth" in words else None
            return {"depth": depth, kind: value}
    return {}


def deep_moves(rows: list[dict], engine: str, nodes: int, *, hash_mb: int = 64,
               progress: bool = True) -> None:
    """Adds "best" (Fairy-Stockfish's move at `nodes` nodes) and "score" to each row."""
    client = UsiClient([engine], {"Threads": 1, "Hash": hash_mb}, name="fairy-stockfish").start()
    started = time.monotonic()
    try:
        for number, row in enumerate(rows, 1):
            client.new_game()  # clears the hash: each answer depends on its position alone
            client.request_move(row["sfen"], [], MoveLimit(nodes=nodes))
            move, info = client.read_move_and_info(time.monotonic() + 600)
            legal = {cshogi.move_to_usi(m) for m in cshogi.Board(row["sfen"]).legal_moves}
            if move not in legal:
                raise SystemExit(f"error: Fairy-Stockfish answered {move} on {row['sfen']}")
            row["best"], row["score"] = move, score_of(info)
            if progress and number % 100 == 0:
                print(f"  {number}/{len(rows)} searched, {time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
    finally:
        client.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS),
                        help="which files to write (the rows of all three are dealt alike)")
    parser.add_argument("--out", type=Path, default=DATA, help="directory (default scripts/data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--value-positions", type=int, default=1800)
    parser.add_argument("--value-per-game", type=int, default=2)
    parser.add_argument("--top1-positions", type=int, default=2000)
    parser.add_argument("--mate-positions", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=150_000,
                        help="Fairy-Stockfish's nodes a top-1 position (go nodes N)")
    parser.add_argument("--engine", default=shutil.which("fairy-stockfish")
                        or "/usr/games/fairy-stockfish", help="Fairy-Stockfish's program")
    args = parser.parse_args(argv)
    if "top1" in args.sets and not Path(args.engine).is_file():
        parser.error(f"no Fairy-Stockfish at {args.engine} (apt-get install fairy-stockfish, "
                     "or --engine PATH)")
    args.out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    print(f"# machine: {machine_line(machine)}")
    games = engine_games()
    print(f"{len(games)} engine-against-engine games in {len(SOURCES)} files")
    rows = deal(games, seed=args.seed, value_positions=args.value_positions,
                value_per_game=args.value_per_game, top1_positions=args.top1_positions,
                mate_positions=args.mate_positions)
    common = {"date": machine["date"], "commit": machine["git_revision"],
              "machine": machine_line(machine), "seed": args.seed,
              "command": " ".join(["python scripts/probe_positions.py", *(argv or sys.argv[1:])]),
              "sources": [str(Path(s).relative_to(ROOT)) for s in SOURCES]}
    how = {"value": f"{args.value_per_game} a decisive engine game, {VALUE_PLIES[0]}-"
                    f"{VALUE_PLIES[1]} plies before its end",
           "top1": f"one a game, any ply; Fairy-Stockfish go nodes {args.nodes}, 1 thread",
           "mate": "one a game where the side to move has a mate in one"}
    for name in args.sets:
        check_with_our_rules(rows[name], with_mates=name == "mate")
        if name == "top1":
            started = time.monotonic()
            deep_moves(rows[name], args.engine, args.nodes)
            common_top1 = {"engine": args.engine, "nodes": args.nodes, "threads": 1,
                           "search_seconds": round(time.monotonic() - started)}
        meta = {**common, "set": name, "how": how[name], "positions": len(rows[name]),
                **(common_top1 if name == "top1" else {})}
        write_set(args.out / SETS[name], meta, rows[name])
        size = (args.out / SETS[name]).stat().st_size
        print(f"{SETS[name]}: {len(rows[name])} positions from "
              f"{len({(r['source'], r['game']) for r in rows[name]})} games, {size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
