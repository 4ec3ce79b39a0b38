#!/usr/bin/env bash
# A small match under shogiarena (pip; tournaments, SPRT and SPSA for USI engines, offline):
# our USI engine (the shipped network, through a launcher) against Fairy-Stockfish at Skill Level 0.
# Issue 24; what it printed and the quirks: docs/shogiarena.md.
#
# Install (shogiarena in its own venv, so the project's environment is not touched):
#   python3 -m venv /work/venv-arena && /work/venv-arena/bin/pip install shogiarena   # 1.3.2 tried
#   apt-get install -y fairy-stockfish                                                 # /usr/games
#   pip install -e ".[test]"    # this project (and cshogi, for the check at the end), in $PYTHON
#
# Usage: scripts/shogiarena_match.sh OUT_DIR
#   OUT_DIR gets the launcher, the engine and tournament YAMLs, the openings and shogiarena's run
#   directory (OUT_DIR/run: games, logs, results/). Settings from the environment:
#   SHOGIARENA (the shogiarena command; default /work/venv-arena/bin/shogiarena, else on PATH),
#   PYTHON (runs our engine; default python), FAIRY_STOCKFISH (/usr/games/fairy-stockfish),
#   GAMES (10: even, at most 10; each of the 5 openings is played with both colours), BYOYOMI_MS (300),
#   FSF_SKILL (0), OPPONENT (fairy_stockfish; greedy: our engine's greedy player instead),
#   DRY_RUN (set: shogiarena only checks the configuration and the schedule).
set -euo pipefail
OUT=${1:?usage: scripts/shogiarena_match.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # absolute: shogiarena starts each engine from its own directory
cd "$(dirname "$0")/.."  # the repository root: python -m shogi_jax works even when not installed
if [[ -z "${SHOGIARENA:-}" ]]; then
  if [[ -x /work/venv-arena/bin/shogiarena ]]; then SHOGIARENA=/work/venv-arena/bin/shogiarena
  else SHOGIARENA=shogiarena; fi
fi
PYTHON=${PYTHON:-python}
FAIRY_STOCKFISH=${FAIRY_STOCKFISH:-/usr/games/fairy-stockfish}
GAMES=${GAMES:-10}
BYOYOMI_MS=${BYOYOMI_MS:-300}
FSF_SKILL=${FSF_SKILL:-0}
OPPONENT=${OPPONENT:-fairy_stockfish}

# Our engine as one executable without arguments (README "GUI registration").
"$PYTHON" -m shogi_jax.usi --pretrained --write-launcher "$OUT/shogi_jax_pretrained.sh" 2>/dev/null

cat > "$OUT/shogi_jax_pretrained.yaml" <<YAML
name: "shogi_jax-pretrained"
engine_path: "$OUT/shogi_jax_pretrained.sh"
working_directory: "$OUT"
handshake_timeout: 300   # the first start compiles the network and the rules
YAML

if [[ "$OPPONENT" == greedy ]]; then
  # Our engine against itself: the greedy-material player (no network) as the opponent.
  "$PYTHON" -m shogi_jax.usi --player greedy --write-launcher "$OUT/shogi_jax_greedy.sh" 2>/dev/null
  OPPONENT_NAME="shogi_jax-greedy"
  cat > "$OUT/opponent.yaml" <<YAML
name: "$OPPONENT_NAME"
engine_path: "$OUT/shogi_jax_greedy.sh"
working_directory: "$OUT"
handshake_timeout: 300
YAML
else
  OPPONENT_NAME="fairy-stockfish-skill$FSF_SKILL"
  cat > "$OUT/opponent.yaml" <<YAML
name: "$OPPONENT_NAME"
engine_path: "$FAIRY_STOCKFISH"
options:
  Threads: 1
  Hash: 16
  "Skill Level": $FSF_SKILL
YAML
fi

# Openings (USI moves from the start position); each is played twice, colours swapped.
cat > "$OUT/openings.txt" <<TXT
7g7f 3c3d
2g2f 8c8d
7g7f 8c8d
5g5f 3c3d
2g2f 3c3d
TXT

cat > "$OUT/tournament.yaml" <<YAML
experiment_name: "shogi_jax_vs_$OPPONENT"
engines:                     # the names here are the ones in the results (else "<yaml>@<hash>")
  - name: "shogi_jax-pretrained"
    engine_path: "$OUT/shogi_jax_pretrained.yaml"
  - name: "$OPPONENT_NAME"
    engine_path: "$OUT/opponent.yaml"
tournament:
  scheduler: "round_robin"
  games_per_pair: $GAMES
  num_parallel: 1
rules:
  time_control:
    time_ms: 0               # byoyomi only: shogiarena wants the main time given, as 0
    byoyomi_ms: $BYOYOMI_MS
  initial_positions:
    type: "file"
    source: "$OUT/openings.txt"
    source_format: "usi_line"
    flip_policy: "pair_both"
    selection_policy: "without_replacement"
  repetition_occurrences_to_draw: 4   # sennichite: the fourth occurrence
  adjudication:
    max_plies: 320
    # The default (true) sets "MaxMovesToDraw|Draw_Ply" to max_plies and fails to start an engine
    # that offers neither (ours, Fairy-Stockfish): "did not expose options: MaxMovesToDraw, Draw_Ply".
    sync_max_plies_with_engine: false
dashboard:
  enabled: false
logging:
  usi_transcript: true
YAML

# --output-dir: shogiarena's other files (instances/) go under OUT, not into the current directory.
"$SHOGIARENA" --output-dir "$OUT/arena_output" run tournament "$OUT/tournament.yaml" \
  --run-dir "$OUT/run" --no-resume ${DRY_RUN:+--dry-run} 2>&1 | tee "$OUT/arena.log"
[[ -n "${DRY_RUN:-}" ]] && exit 0
"$SHOGIARENA" results summary "$OUT/run" 2>/dev/null | tee "$OUT/summary.txt"
cat "$OUT/run/results/summary_btd.json"
echo

# Our check: shogiarena records no end reason, and it takes "bestmove win" (the impasse
# declaration) on trust and ends the game at once. Replay every game from the USI transcripts with
# cshogi (pip install -e ".[test]" brings it), say how it ended (mate, a declaration checked by
# cshogi's 27-point rule, resignation, or none of these: max_plies or repetition), and list any
# trouble from our engine: its stderr other than absl's start-up warnings, "info string" answers
# (how it names bad input), invalid declarations, and shogiarena's warnings or errors naming it
# (illegal moves, no bestmove, time losses).
echo "shogiarena warnings/errors about our engine:"
grep -E "WARNING|ERROR" "$OUT/arena.log" | grep -i "shogi_jax" || echo "  none"
"$PYTHON" - "$OUT/run" <<'PY'
import glob, re, sys
import cshogi

run, bad = sys.argv[1], 0
for game in sorted({re.sub(r"-(black|white)\.log$", "", f) for f in glob.glob(f"{run}/transcripts/*.log")}):
    last = {}  # side -> (last position sent, the engine's answer)
    names, results, trouble = {}, {}, []
    for side in ("black", "white"):
        lines = open(f"{game}-{side}.log", encoding="utf-8").read().splitlines()
        names[side] = next(l for l in lines if l.startswith("# engine:")).split(": ", 1)[1]
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
                    direction == "in" and re.search(r"info string|illegal|error", text, re.I))):
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
        end = f"{move}, " + ("mate" if board.is_game_over() else "no mate (max_plies or repetition)")
    print(f"{game.rsplit('/', 1)[-1]}: black {names['black']} ({results.get('black')}), white "
          f"{names['white']} ({results.get('white')}); {plies} plies after the opening, last {end}")
    for t in trouble:
        print("   trouble:", t)
    bad += len(trouble)
print(f"{bad} problem line(s) from our engine")
sys.exit(1 if bad else 0)
PY
