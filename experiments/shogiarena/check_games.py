"""Our check of a shogiarena run: shogiarena records no end reason, and it takes "bestmove win"
(the impasse declaration) on trust and ends the game at once. Replays every game from the USI
transcripts with cshogi, says how it ended (mate, a declaration checked by cshogi's 27-point rule,
resignation, or none of these: max_plies or repetition), and lists any trouble from our engine:
its stderr other than absl's start-up warnings, "info string" answers (how it names bad input)
and invalid declarations. Exit 1 when there is trouble.
Usage: python experiments/shogiarena/check_games.py RUN_DIR
(needs cshogi: pip install -e ".[test]")
"""
import glob
import os
import re
import sys

import cshogi

if len(sys.argv) != 2 or not os.path.isdir(os.path.join(sys.argv[1], "transcripts")):
    sys.exit(f"usage: {sys.argv[0]} RUN_DIR (a shogiarena run directory holding transcripts/); "
             f"got {sys.argv[1:]}")
run, bad = sys.argv[1], 0
transcripts = glob.glob(f"{run}/transcripts/*.log")
for game in sorted({re.sub(r"-(black|white)\.log$", "", f) for f in transcripts}):
    last = {}  # side -> (last position sent, the engine's answer)
    names, results, trouble = {}, {}, []
    for side in ("black", "white"):
        with open(f"{game}-{side}.log", encoding="utf-8") as transcript:
            lines = transcript.read().splitlines()
        names[side] = next(row for row in lines if row.startswith("# engine:")).split(": ", 1)[1]
        is_ours = names[side].startswith("shogi_jax")
        position = None
        for line in lines:
            parts = line.split(" ", 3)
            if len(parts) < 4 or line.startswith("#"):
                continue
            direction, text = parts[1], parts[3]
            if direction == "out" and text.startswith("position "):
                position = text
            elif direction == "in" and text.startswith("bestmove "):
                last[side] = (position, text.split()[1], is_ours)
            if direction == "out" and text.startswith("gameover "):
                results[side] = text.split()[1]
            if is_ours and ((direction == "stderr" and "absl" not in text) or (
                    direction == "in"
                    and re.search(r"info string|illegal|error", text, re.IGNORECASE))):
                trouble.append(f"{side}: {line}")
    position, move, by_ours = max(last.values(), key=lambda pmo: len(pmo[0]))
    board = cshogi.Board()
    board.set_position(position.removeprefix("position "))
    plies = len(position.split(" moves ")[1].split()) if " moves " in position else 0
    if move == "win":
        valid = board.is_nyugyoku()
        end = "bestmove win, " + ("a valid declaration" if valid else "NOT a valid declaration")
        if by_ours and not valid:
            trouble.append(f"invalid declaration: {position}")
    elif move == "resign":
        end = "bestmove resign"
    else:
        board.push_usi(move)
        plies += 1
        end = f"{move}, " + ("mate" if board.is_game_over()
                             else "no mate (max_plies or repetition)")
    print(f"{game.rsplit('/', 1)[-1]}: black {names['black']} ({results.get('black')}), white "
          f"{names['white']} ({results.get('white')}); {plies} plies after the opening, last {end}")
    for t in trouble:
        print("   trouble:", t)
    bad += len(trouble)
print(f"{bad} problem line(s) from our engine")
sys.exit(1 if bad else 0)
