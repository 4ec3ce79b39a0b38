"""KIF and CSA game records: written by `shogi_jax.notation.{kif,csa}`, read back by cshogi's
parsers and by `notation.kif`'s own reader (which agrees with cshogi's); the moves as
`notation.record_board` describes them cross-checked against cshogi on random games (the legal
moves themselves are the rules engine's, checked in test_rules_vs_cshogi).

cshogi 1.1.0's KIF reader has three limits these tests work around, each said where it is met:
`parse_file` takes the encoding from the file name (`.kifu` UTF-8, else cp932), it ignores a board
diagram (replaying every game from the standard position) and its move pattern lacks 不成.
"""
from __future__ import annotations

import random

import cshogi
import cshogi.CSA
import cshogi.KIF
import numpy as np
import pytest

from shogi_jax.notation import record_board
from shogi_jax.notation.csa import csa_from_record, to_csa
from shogi_jax.notation.kif import (
    kif_from_record,
    kif_moves,
    result_of_summary,
    to_kif,
    usi_of_kif_move,
    usi_of_kif_moves,
)
from shogi_jax.notation.sfen import parse_sfen

STARTPOS = cshogi.STARTING_SFEN
STARTS = (
    STARTPOS,
    # The standard board with White to move: not 平手, so a board diagram with 後手番.
    "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1",
    # A middle game, White to move, both sides with pieces in hand, a promoted pawn on the board.
    "l6nl/5+P1gk/2np1S3/p1p4Pp/3P2Sp1/1PPb2P1P/P5GS1/R8/LN4bKL w RGgsn5p 1",
    # Black's pawn, silver and knight one step from the zone, where promotion is optional.
    "ln2k2nl/3g1g3/p1pp1pp1p/9/2PSP1N2/9/P4P2P/4G4/L3K3L b RBSbrs3p 1",
    # Kings alone with full hands: drops and captures from the first move.
    "4k4/9/9/9/9/9/9/9/4K4 b RB2G2S2N2L9Prb2g2s2n2l9p 1",
)
GAMES_PER_START = 8
MAX_PLIES = 120
MATE_LINE = ["7g7f", "3c3d", "8h2b+", "4a5b", "B*4b", "5a4a", "2b3a"]  # capture, drop, mate
REPETITION_LINE = ["5i5h", "5a5b", "5h5i", "5b5a"] * 3  # the start position a fourth time

_WIN_CODES = {"black_win": cshogi.BLACK_WIN, "white_win": cshogi.WHITE_WIN, "draw": cshogi.DRAW}
_KIND_OF_TYPE = {cshogi.PAWN: "P", cshogi.LANCE: "L", cshogi.KNIGHT: "N", cshogi.SILVER: "S",
                 cshogi.GOLD: "G", cshogi.BISHOP: "B", cshogi.ROOK: "R", cshogi.KING: "K",
                 cshogi.PROM_PAWN: "+P", cshogi.PROM_LANCE: "+L", cshogi.PROM_KNIGHT: "+N",
                 cshogi.PROM_SILVER: "+S", cshogi.PROM_BISHOP: "+B", cshogi.PROM_ROOK: "+R"}
_KIND_OF_HAND_PIECE = "PLNSGBR"  # cshogi's hand order (HPAWN .. HROOK)
_WHITE_PIECE_OFFSET = cshogi.WPAWN - cshogi.PAWN


def _square(cshogi_square: int) -> record_board.Square:
    file, rank = divmod(cshogi_square, 9)
    return file + 1, rank + 1


def _usi_list(moves) -> list[str]:
    return [cshogi.move_to_usi(move) for move in moves]


def _position_key(sfen: str) -> str:
    """Board, side to move and hands, as cshogi writes them; the move number dropped."""
    return cshogi.Board(sfen).sfen().rsplit(" ", 1)[0]


def _random_game(start_sfen: str, rng: random.Random):
    """Random legal moves from `start_sfen` (cshogi's move generator), ended by checkmate, no
    legal move, or after a random number of plies by a resignation or the move limit.
    Returns (usi_moves, result, termination, declined promotions)."""
    board = cshogi.Board(start_sfen)
    moves, declined = [], 0
    for _ in range(rng.randint(0, MAX_PLIES)):
        legal = _usi_list(board.legal_moves)
        if not legal:
            break
        usi = rng.choice(legal)
        if not usi.endswith("+") and usi + "+" in legal:
            declined += 1
        moves.append(usi)
        board.push_usi(usi)
    winner_if_decisive = ("white_win", "black_win")[board.turn]  # the side that did not move
    if board.is_game_over():
        return (moves, winner_if_decisive, "checkmate" if board.is_check() else "no_legal_moves",
                declined)
    if rng.random() < 0.5:
        return moves, winner_if_decisive, None, declined  # the side to move resigns
    return moves, "draw", "move_limit", declined


@pytest.fixture(scope="module")
def random_games():
    games = []
    for start_index, start_sfen in enumerate(STARTS):
        rng = random.Random(start_index)
        games += [(start_sfen, *_random_game(start_sfen, rng)) for _ in range(GAMES_PER_START)]
    return games


def _kif_moves_via_cshogi(text: str, start_sfen: str) -> list[str]:
    """The move lines read by cshogi's KIF line parser from `start_sfen`: its file reader skips a
    board diagram, so for other starts this is how cshogi can read the moves."""
    board = cshogi.Board(start_sfen)
    moves = []
    for line in text.splitlines():
        move, _, _ = cshogi.KIF.Parser.parse_move_str(line, board)
        if move is not None:
            moves.append(move)
            board.push(move)
    return _usi_list(moves)


def _board_diagram(text: str) -> str:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("後手の持駒："))
    last = next(i for i, line in enumerate(lines) if line.startswith("先手の持駒："))
    return "\n".join(lines[first:last + 1 + (lines[last + 1] == "後手番")])


def test_kif_round_trip_through_cshogi(random_games, tmp_path):
    for index, (start_sfen, moves, result, termination, _) in enumerate(random_games):
        black, white = f"先手{index}", "gote engine"
        text = to_kif(start_sfen, moves, black=black, white=white, result=result,
                      termination=termination, start_time="2024/05/01 12:34:56",
                      mark_non_promotion=False)
        path = tmp_path / f"game{index}.kifu"  # cshogi reads only .kifu as UTF-8
        path.write_text(text, encoding="utf-8")
        parsed = cshogi.KIF.Parser.parse_file(str(path))
        assert parsed.names == [black, white]
        assert parsed.win == _WIN_CODES[result], (termination, text)
        assert parsed.starttime.isoformat() == "2024-05-01T12:34:56"
        if start_sfen == STARTPOS:
            assert "手合割：平手" in text
            assert parsed.sfen == STARTPOS
            assert _usi_list(parsed.moves) == moves
        else:
            assert "手合割" not in text
            # The diagram is the one cshogi itself writes for this position.
            assert _board_diagram(text) == cshogi.KIF.board_to_bod(cshogi.Board(start_sfen))
        assert _kif_moves_via_cshogi(text, start_sfen) == moves


def test_kif_reads_back_to_the_moves_written(random_games):
    games = [record_board.FinishedGame(start_sfen, moves, "b", "w", result, termination)
             for start_sfen, moves, result, termination, _ in random_games]
    for (start_sfen, moves, result, _, _), record in zip(random_games,
                                                         record_board.game_records(games)):
        for marked in (True, False):
            text = kif_from_record(record, mark_non_promotion=marked)
            written = kif_moves(text)
            assert usi_of_kif_moves(written.moves) == moves, text
            assert result_of_summary(written.summary) == result
            assert written.summary == text.splitlines()[-1]
        # cshogi's move parser reads the unmarked text (it lacks 不成) to the same moves.
        assert _kif_moves_via_cshogi(text, start_sfen) == moves


def test_kif_move_texts_read_back_as_usi():
    assert usi_of_kif_move("７六歩(77)", None) == "7g7f"
    assert usi_of_kif_move("同　角成(88)", "2b") == "8h2b+"
    assert usi_of_kif_move("５五角打", None) == "B*5e"
    assert usi_of_kif_move("２三銀不成(34)", None) == "3d2c"
    assert usi_of_kif_move("２三成銀(34)", None) == "3d2c"
    for bad in ("同　歩(77)", "Ｘ六歩(77)", "７六歩", "７六歩[77)", "５五玉打"):
        with pytest.raises(ValueError):
            usi_of_kif_move(bad, None)
    with pytest.raises(ValueError, match="move 2: '５五玉打'"):
        usi_of_kif_moves(["７六歩(77)", "５五玉打"])
    with pytest.raises(ValueError, match="not numbered"):
        kif_moves("   1 ７六歩(77)\n   3 投了\nまで1手で先手の勝ち\n")


def test_kif_marks_declined_promotions(random_games):
    for start_sfen, moves, result, termination, declined in random_games:
        marked = to_kif(start_sfen, moves, black="b", white="w", result=result,
                        termination=termination)
        plain = to_kif(start_sfen, moves, black="b", white="w", result=result,
                       termination=termination, mark_non_promotion=False)
        assert marked.count("不成(") == declined
        assert marked.replace("不成(", "(") == plain


def test_csa_round_trip_through_cshogi(random_games, tmp_path):
    for index, (start_sfen, moves, result, termination, _) in enumerate(random_games):
        black, white = f"sente-{index}", "後手"
        text = to_csa(start_sfen, moves, black=black, white=white, result=result,
                      termination=termination, event="selfplay")
        path = tmp_path / f"game{index}.csa"
        path.write_text(text, encoding="utf-8")
        (parsed,) = cshogi.CSA.Parser.parse_file(str(path), encoding="utf-8")
        assert _position_key(parsed.sfen) == _position_key(start_sfen)
        assert _usi_list(parsed.moves) == moves
        assert parsed.names == [black, white]
        assert parsed.win == _WIN_CODES[result], (termination, text)
        assert parsed.var_info == {"EVENT": "selfplay"}
        assert ("PI" in text.splitlines()) == (start_sfen == STARTPOS)


def test_random_games_cover_every_kind_of_move(random_games):
    texts = [to_kif(start, moves, black="b", white="w", result=result, termination=termination)
             for start, moves, result, termination, _ in random_games]
    joined = "\n".join(texts)
    for mark in ("同　", "打", "成(", "不成(", "成銀", "後手番"):
        assert mark in joined, mark


def test_record_board_matches_cshogi(random_games):
    """The moved and the captured piece, the squares, promotion and whether it was a choice, of
    every move, and the whole position after the last one, on every random game."""
    for start_sfen, moves, result, termination, _ in random_games:
        record = record_board.game_record(start_sfen, moves, black="b", white="w", result=result,
                                          termination=termination)
        board = cshogi.Board(start_sfen)
        assert len(record.moves) == len(moves)
        for usi, described in zip(moves, record.moves):
            legal = _usi_list(board.legal_moves)
            move = board.move_from_usi(usi)
            target = board.piece(cshogi.move_to(move))
            assert described.usi == usi and described.color == board.turn
            assert described.to == _square(cshogi.move_to(move))
            assert described.promotes == cshogi.move_is_promotion(move)
            assert described.may_promote == (usi.endswith("+") or usi + "+" in legal)
            if cshogi.move_is_drop(move):
                assert described.is_drop
                assert described.piece == _KIND_OF_HAND_PIECE[cshogi.move_drop_hand_piece(move)]
            else:
                assert described.source == _square(cshogi.move_from(move))
                assert described.piece == _KIND_OF_TYPE[cshogi.move_from_piece_type(move)]
            captured = None if target == cshogi.NONE else _KIND_OF_TYPE[
                target % _WHITE_PIECE_OFFSET]
            assert described.captured == captured
            board.push(move)
        final_board, final_hands, final_color, _ = parse_sfen(board.sfen())
        assert np.array_equal(record.final.board, final_board)
        assert np.array_equal(record.final.hands, final_hands)
        assert record.final.color == final_color


def test_checkmate_game():
    board = cshogi.Board()
    for usi in MATE_LINE:
        board.push_usi(usi)
    assert board.is_game_over() and board.is_check()
    kif = to_kif(STARTPOS, MATE_LINE, black="b", white="w", result="black_win",
                 termination="checkmate")
    assert kif.splitlines()[-4:] == ["   6 ４一玉(51)", "   7 ３一馬(22)", "   8 詰み",
                                     "まで7手で先手の勝ち"]
    assert "   3 ２二角成(88)" in kif and "   5 ４二角打" in kif
    (parsed,) = cshogi.CSA.Parser.parse_str(to_csa(STARTPOS, MATE_LINE, black="b", white="w",
                                                    result="black_win", termination="checkmate"))
    assert parsed.win == cshogi.BLACK_WIN and parsed.endgame == "%TORYO"
    assert _usi_list(parsed.moves) == MATE_LINE


def test_repetition_draw_game():
    board = cshogi.Board()
    for usi in REPETITION_LINE:
        board.push_usi(usi)
    assert board.is_draw() == cshogi.REPETITION_DRAW
    kif = to_kif(STARTPOS, REPETITION_LINE, black="b", white="w", result="draw",
                 termination="repetition_draw")
    assert kif.splitlines()[-2:] == ["  13 千日手", "まで12手で千日手"]
    assert cshogi.KIF.Parser.parse_str(kif).win == cshogi.DRAW
    (parsed,) = cshogi.CSA.Parser.parse_str(to_csa(STARTPOS, REPETITION_LINE, black="b",
                                                    white="w", result="draw",
                                                    termination="repetition_draw"))
    assert parsed.win == cshogi.DRAW and parsed.endgame == "%SENNICHITE"


# (termination, result, KIF special move, KIF summary, cshogi's KIF winner, CSA special move);
# after OPENING Black is to move. cshogi reads the winner of a CSA record from its special move.
OPENING = ["7g7f", "3c3d"]
ENDINGS = [
    ("checkmate", "white_win", "詰み", "後手の勝ち", cshogi.WHITE_WIN, "%TORYO"),
    ("no_legal_moves", "white_win", "投了", "後手の勝ち", cshogi.WHITE_WIN, "%TORYO"),
    (None, "white_win", "投了", "後手の勝ち", cshogi.WHITE_WIN, "%TORYO"),
    (None, "draw", "中断", "中断", None, "%CHUDAN"),
    ("repetition_draw", "draw", "千日手", "千日手", cshogi.DRAW, "%SENNICHITE"),
    ("move_limit", "draw", "持将棋", "持将棋", cshogi.DRAW, "%JISHOGI"),
    ("impasse_declaration", "black_win", "入玉勝ち", "先手の入玉勝ち", cshogi.BLACK_WIN, "%KACHI"),
    ("illegal_action", "white_win", "反則負け", "後手の反則勝ち", cshogi.WHITE_WIN,
     "%ILLEGAL_MOVE"),
    ("perpetual_check", "black_win", "反則勝ち", "先手の反則勝ち", cshogi.BLACK_WIN,
     "%-ILLEGAL_ACTION"),
    ("perpetual_check", "white_win", "反則負け", "後手の反則勝ち", cshogi.WHITE_WIN,
     "%+ILLEGAL_ACTION"),
    ("resignation", "white_win", "投了", "後手の勝ち", cshogi.WHITE_WIN, "%TORYO"),
    ("time_up", "white_win", "切れ負け", "後手の勝ち", cshogi.WHITE_WIN, "%TIME_UP"),
    ("disconnection", "black_win", "反則勝ち", "先手の反則勝ち", cshogi.BLACK_WIN,
     "%-ILLEGAL_ACTION"),
    ("disconnection", "white_win", "反則負け", "後手の反則勝ち", cshogi.WHITE_WIN,
     "%+ILLEGAL_ACTION"),
]


def test_endings_cover_every_termination():
    assert {ending[0] for ending in ENDINGS} == set(record_board.TERMINATIONS) | {None}


@pytest.mark.parametrize("termination,result,kif_final,kif_summary,kif_win,csa_final", ENDINGS)
def test_endings(termination, result, kif_final, kif_summary, kif_win, csa_final):
    kif = to_kif(STARTPOS, OPENING, black="b", white="w", result=result, termination=termination)
    assert kif.splitlines()[-2:] == [f"   3 {kif_final}", f"まで2手で{kif_summary}"]
    assert cshogi.KIF.Parser.parse_str(kif).win == kif_win
    csa = to_csa(STARTPOS, OPENING, black="b", white="w", result=result, termination=termination)
    assert csa.splitlines()[-1] == csa_final
    (parsed,) = cshogi.CSA.Parser.parse_str(csa)
    assert parsed.endgame == csa_final
    assert parsed.win == _WIN_CODES[result]


def test_a_note_says_why_the_game_ended():
    note = "engine X: illegal USI move '5a5b'"
    kif = to_kif(STARTPOS, OPENING, black="b", white="w", result="white_win",
                 termination="illegal_action", note=note)
    assert kif.splitlines()[-3] == "*" + note
    assert cshogi.KIF.Parser.parse_str(kif).win == cshogi.WHITE_WIN
    csa = to_csa(STARTPOS, OPENING, black="b", white="w", result="white_win",
                 termination="illegal_action", note=note)
    assert csa.splitlines()[-2:] == ["'" + note, "%ILLEGAL_MOVE"]
    for writer in (to_kif, to_csa):
        with pytest.raises(ValueError, match="note .* must be a string on one line"):
            writer(STARTPOS, OPENING, black="b", white="w", result="white_win",
                   termination="time_up", note="two\nlines")


@pytest.mark.parametrize("termination,result,fault", [
    ("checkmate", "black_win", "must be 'white_win'"),
    ("impasse_declaration", "white_win", "must be 'black_win'"),
    ("move_limit", "black_win", "must be 'draw'"),
    (None, "black_win", "must be 'white_win'"),
    ("perpetual_check", "draw", "one side loses"),
    ("disconnection", "draw", "one side loses"),
    ("time_up", "black_win", "must be 'white_win'"),
    ("timeout", "draw", "termination 'timeout' must be None or one of"),
    ("checkmate", "win", "result 'win' must be one of"),
])
def test_result_must_fit_termination(termination, result, fault):
    for writer in (to_kif, to_csa):
        with pytest.raises(ValueError) as error:
            writer(STARTPOS, OPENING, black="b", white="w", result=result,
                   termination=termination)
        assert fault in str(error.value)


@pytest.mark.parametrize("start_sfen,moves,fault", [
    (STARTPOS, ["7g7f", "3c3d", "7f7e+"], "move at index 2: illegal USI move '7f7e+': the P "
                                          "cannot promote"),
    (STARTPOS, ["7g7f", "P*5e"], "move at index 1: illegal USI move 'P*5e': White has no P in "
                                 "hand"),
    (STARTPOS, ["7g7e"], "move at index 0: illegal USI move '7g7e': the P on 7g cannot reach 7e"),
    (STARTPOS, ["7g7f", "8h2b"], "move at index 1: illegal USI move '8h2b': the piece on 8h is "
                                 "Black's"),
    (STARTPOS, ["5e5d"], "there is no piece on 5e"),
    # The pawn on 1g could go to 1f (the engine moves the first piece back from 1f): not the lance.
    (STARTPOS, ["1i1f"], "move at index 0: illegal USI move '1i1f': the path from 1i is blocked"),
    (STARTPOS, REPETITION_LINE + ["7g7f"], "move at index 12: illegal USI move '7g7f': the game "
                                           "is over"),
    (STARTPOS, ["7g7"], "move at index 0: bad USI move '7g7'"),
    (STARTPOS, ["7g7f", "3c3d", "K*5e"], "move at index 2: bad USI move 'K*5e'"),
    (STARTPOS, ["7g7f", 76], "move at index 1: USI move must be a string"),
    ("4k4/9/9/9/9/9/4r4/9/4K4 b G 1", ["G*4h"], "leaves Black's king in check"),
    ("4k4/9/9/9/9/9/4P4/9/4K4 b P 1", ["P*5e"], "unpromoted pawn on file 5 (nifu)"),
    ("k8/9/1GN6/9/9/9/9/9/8K b P 1", ["P*9b"], "may not give checkmate (uchifuzume)"),
    ("4k4/9/9/9/9/9/9/9/4K4 b P 1", ["P*5a"], "occupied"),
    ("4k4/9/9/9/9/9/9/9/4K4 b P 1", ["P*4a"], "could never move"),
    ("k8/4P4/9/9/9/9/9/9/4K4 b - 1", ["5b5a"], "the P must promote on 5a"),
])
def test_bad_moves_are_named(start_sfen, moves, fault):
    for writer in (to_kif, to_csa):
        with pytest.raises(ValueError) as error:
            writer(start_sfen, moves, black="b", white="w", result="draw",
                   termination="move_limit")
        assert fault in str(error.value)


def test_game_records_replay_many_games_as_one_by_one(random_games, monkeypatch):
    """Games of every start replayed together, split into batches of the smallest size (the
    program the one-game records use): the same records, in the order given."""
    monkeypatch.setattr(record_board, "BATCH_SIZES", record_board.BATCH_SIZES[:1])
    games = [record_board.FinishedGame(start_sfen, moves, "b", "w", result, termination)
             for start_sfen, moves, result, termination, _ in random_games]
    records = record_board.game_records(games)
    assert len(games) > record_board.BATCH_SIZES[0] and len(records) == len(games)
    for game, record in zip(games, records):
        arguments = dict(black="b", white="w", result=game.result, termination=game.termination)
        assert kif_from_record(record) == to_kif(game.start_sfen, game.usi_moves, **arguments)
        assert csa_from_record(record) == to_csa(game.start_sfen, game.usi_moves, **arguments)
    assert record_board.game_records([]) == []


def test_game_records_name_the_faulty_game():
    good = record_board.FinishedGame(STARTPOS, OPENING, "b", "w", "white_win", None)
    bad_move = good._replace(usi_moves=["7g7f", "3c3d", "7f7e+"])
    with pytest.raises(ValueError, match=r"^game 2: move at index 2: illegal USI move '7f7e\+': "
                                         "the P cannot promote on this move$"):
        record_board.game_records([good, good, bad_move, good._replace(result="black_win")])
    with pytest.raises(ValueError, match="^game 1: result 'black_win' does not fit termination "
                                         "None"):
        record_board.game_records([good, good._replace(result="black_win"), good])
    with pytest.raises(ValueError, match="^game 0: bad SFEN"):
        record_board.game_records([good._replace(start_sfen="9/9 b - 1"), good])


def test_uchifuzume_only_when_it_mates():
    # Without the knight guarding 8a the king escapes: the same pawn drop is legal.
    sfen = "k8/9/1G7/9/9/9/9/9/8K b P 1"
    assert "P*9b" in _usi_list(cshogi.Board(sfen).legal_moves)
    record = record_board.game_record(sfen, ["P*9b"], black="b", white="w", result="draw",
                                      termination="move_limit")
    assert record.moves[0].is_drop and record.moves[0].to == (9, 2)
    with pytest.raises(ValueError, match="uchifuzume"):
        record_board.game_record("k8/9/1GN6/9/9/9/9/9/8K b P 1", ["P*9b"], black="b", white="w",
                                 result="draw", termination="move_limit")


@pytest.mark.parametrize("sfen,fault", [
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1 b - 1", "8 ranks"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL x - 1", "side to move 'x'"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSN b - 1", "is not 9 squares"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSG+KGSNL b - 1", "cannot read rank 9"),
    ("lnsg1gsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1", "White has 0 kings"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b 2Q 1", "cannot read hands"),
    ("", "expected 'BOARD SIDE HANDS [MOVE]'"),
])
def test_bad_start_sfen_is_named(sfen, fault):
    with pytest.raises(ValueError) as error:
        to_csa(sfen, [], black="b", white="w", result="draw", termination="move_limit")
    assert fault in str(error.value)


def test_kif_encoding_follows_the_file_name_in_cshogi(tmp_path):
    """Why records are saved as .kifu: cshogi 1.1.0 reads any other KIF name as cp932, whatever
    the `#KIF ... encoding=UTF-8` line says."""
    text = to_kif(STARTPOS, OPENING, black="先手", white="後手", result="white_win")
    assert text.splitlines()[0] == "#KIF version=2.0 encoding=UTF-8"
    (tmp_path / "game.kif").write_text(text, encoding="utf-8")
    with pytest.raises(UnicodeDecodeError):
        cshogi.KIF.Parser.parse_file(str(tmp_path / "game.kif"))
    (tmp_path / "game.kifu").write_text(text, encoding="utf-8")
    assert cshogi.KIF.Parser.parse_file(str(tmp_path / "game.kifu")).names == ["先手", "後手"]
