"""How a player's games ended, read from CSA records and tournament logs (csa_results,
scripts/usi_results.py): hand-made records written by cshogi's own CSA exporter, one for each
way a game ends, with the result each must give by hand; a mate told from a resignation by
replaying the game; a record without the player, or an unknown ending, named. Our tournaments'
games logs the same way, every termination by hand."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import cshogi
import cshogi.CSA
import pytest

from shogi_jax.arena import csa_results
from shogi_jax.rules.state import STARTPOS_SFEN

MATE_IN_ONE = "6k1p/9/4P1G2/9/6L2/9/9/9/K8 b - 1"  # Black mates with 3c3b, only that move


def write_game(exporter, sfen: str, names: list[str], moves: list[str], endgame: str) -> None:
    board = cshogi.Board(sfen)
    exporter.info(board, names)
    for usi in moves:
        move = board.move_from_usi(usi)
        exporter.move(move)
        board.push(move)
    exporter.endgame(endgame)


@pytest.fixture
def records(tmp_path):
    """Two files: "net" against "random" and "fsf", every ending once (7 games)."""
    first, second = tmp_path / "vs_random.csa", tmp_path / "vs_fsf.csa"
    exporter = cshogi.CSA.Exporter(str(first))
    # 1. net (Black) mates: the side to move (White) has no legal move; the runner writes %TORYO.
    write_game(exporter, MATE_IN_ONE, ["net", "random"], ["3c3b"], "%TORYO")
    exporter.close()
    exporter = cshogi.CSA.Exporter(str(first), append=True)
    # 2. random (Black) resigns after a quiet move of net's (White): a win by resignation.
    write_game(exporter, STARTPOS_SFEN, ["random", "net"], ["7g7f", "3c3d"], "%TORYO")
    exporter.close()
    exporter = cshogi.CSA.Exporter(str(second))
    # 3. fsf (White) declares: %KACHI by the side to move, White, which wins.
    write_game(exporter, STARTPOS_SFEN, ["net", "fsf"], ["7g7f"], "%KACHI")
    exporter.close()
    for names, moves, endgame in (
            (["fsf", "net"], ["2g2f", "8c8d"], "%SENNICHITE"),  # a draw by repetition
            (["net", "fsf"], ["7g7f", "3c3d"], "%JISHOGI"),  # a draw by the move limit
            (["net", "fsf"], ["7g7f"], "%ILLEGAL_MOVE"),  # White (fsf), to move, played one
            (["net", "fsf"], ["7g7f", "3c3d"], "%TIME_UP")):  # Black (net), to move, lost on time
        exporter = cshogi.CSA.Exporter(str(second), append=True)
        write_game(exporter, STARTPOS_SFEN, names, moves, endgame)
        exporter.close()
    return first, second


def test_every_ending_from_the_players_side(records):
    endings = csa_results.player_endings(records, "net")
    assert endings == [
        csa_results.Ending("win", "mate", "random", 1),
        csa_results.Ending("win", "resignation", "random", 2),
        csa_results.Ending("loss", "declaration", "fsf", 1),
        csa_results.Ending("draw", "repetition", "fsf", 2),
        csa_results.Ending("draw", "move limit", "fsf", 2),
        csa_results.Ending("win", "illegal move", "fsf", 1),
        csa_results.Ending("loss", "time up", "fsf", 2),
    ]
    rows = csa_results.summary_rows(endings)
    assert [(row["opponent"], row["games"], row["wins"], row["draws"], row["losses"])
            for row in rows] == [("random", 2, 2, 0, 0), ("fsf", 5, 1, 2, 2)]
    assert rows[1]["score"] == pytest.approx((1 + 2 / 2) / 5)
    # Gzipped (as docs keeps the runner's files), the same games.
    zipped = records[1].with_name("vs_fsf.csa.gz")
    zipped.write_bytes(gzip.compress(records[1].read_bytes()))
    assert csa_results.player_endings([records[0], zipped], "net") == endings
    # The opponent's side of the same games mirrors them.
    assert [(e.result, e.how) for e in csa_results.player_endings(records[1:], "fsf")] == [
        ("win", "declaration"), ("draw", "repetition"), ("draw", "move limit"),
        ("loss", "illegal move"), ("win", "time up")]


def test_the_script_prints_the_table_and_names_a_missing_player(records):
    script = [sys.executable, "scripts/usi_results.py", *map(str, records)]
    done = subprocess.run(script + ["--player", "net"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| random | 2 | 2 / 0 / 0 | 1.000 | 1 mate, 1 resignation | — | — |" in done.stdout
    assert ("| fsf | 5 | 1 / 2 / 2 | 0.400 | 1 illegal move | 1 repetition, 1 move limit | "
            "1 declaration, 1 time up |") in done.stdout
    missing = subprocess.run(script + ["--player", "gnushogi"], capture_output=True, text=True)
    assert missing.returncode == 2
    assert f"{records[0]} game 1: 'gnushogi' does not play in it" in missing.stderr


def test_an_unknown_ending_is_named():
    with pytest.raises(ValueError, match="unknown CSA ending '%CHUDAN'"):
        csa_results.ending_of("%CHUDAN", STARTPOS_SFEN, [])


def tournament_record(black, white, result, termination, plies=2):
    return {"black": black, "white": white, "result": result, "termination": termination,
            "start_sfen": STARTPOS_SFEN, "moves": ["7g7f", "3c3d", "2g2f"][:plies]}


def test_tournament_records_from_the_players_side(tmp_path):
    """Our tournaments' games.jsonl: each termination in ENDINGS' words, from net's side (by
    hand: Black wins when result is black_win, whichever side net plays)."""
    records = [tournament_record("net", "random", "black_win", "checkmate", 3),
               tournament_record("random", "net", "black_win", "impasse_declaration"),
               tournament_record("fsf", "net", "draw", "repetition_draw"),
               tournament_record("net", "fsf", "draw", "move_limit"),
               tournament_record("net", "fsf", "black_win", "illegal_action", 1),
               tournament_record("fsf", "net", "white_win", "perpetual_check"),
               tournament_record("random", "fsf", "white_win", "checkmate")]  # net absent
    assert csa_results.record_endings(records, "net") == [
        csa_results.Ending("win", "mate", "random", 3),
        csa_results.Ending("loss", "declaration", "random", 2),
        csa_results.Ending("draw", "repetition", "fsf", 2),
        csa_results.Ending("draw", "move limit", "fsf", 2),
        csa_results.Ending("win", "illegal move", "fsf", 1),
        csa_results.Ending("win", "perpetual check", "fsf", 2)]
    with pytest.raises(ValueError, match="unknown termination 'resigned'"):
        csa_results.record_endings([tournament_record("net", "fsf", "draw", "resigned")], "net")
    with pytest.raises(ValueError, match="no result"):
        csa_results.record_endings([tournament_record("net", "fsf", "?", "checkmate")], "net")

    # The script reads a tournament's gzipped log and sums every opponent into one row.
    log = tmp_path / "games.jsonl.gz"
    with gzip.open(log, "wt", encoding="utf-8") as file:
        file.writelines(json.dumps({"game": n, **r}) + "\n" for n, r in enumerate(records, 1))
    printed = subprocess.run([sys.executable, "scripts/usi_results.py", str(log), "--player",
                              "net", "--all-opponents"], capture_output=True, text=True,
                             check=True).stdout
    assert "| all | 6 | 3 / 2 / 1 | 0.667 | 1 mate, 1 illegal move, 1 perpetual check | " \
           "1 repetition, 1 move limit | 1 declaration |" in printed
    absent = subprocess.run([sys.executable, "scripts/usi_results.py", str(log), "--player",
                             "nobody"], capture_output=True, text=True)
    assert absent.returncode == 2 and "'nobody' plays no game" in absent.stderr
