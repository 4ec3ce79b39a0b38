#!/usr/bin/env bash
# The learning bar (issue 13) end to end, on the CPU:
#   1. train configs/cpu.yaml for at most 60 minutes of wall clock (seed 0);
#   2. our tournament CLI: the final checkpoint against uniform random and greedy-material,
#      400 games per pairing (BAR_GAMES), colours alternated, 4 random opening plies, max_plies 512;
#   3. the same checkpoint through our USI engine against the random and greedy USI engines,
#      driven by cshogi's client (cshogi referees every move), USI_GAMES (400) games each, and,
#      where it is installed, against Fairy-Stockfish at Skill Level 0 with 50 ms a move
#      (byoyomi; ours has 1 s), FSF_GAMES (200) games; then how each player's wins, draws and
#      losses came (scripts/usi_results.py: mate, resignation, declaration, repetition, ...);
#   4. its place on the ladder of real engines (docs/ladder.md): a gauntlet against the rungs
#      around it (random, greedy, Fairy-Stockfish at depth 1 with Skill Level -5, -4 and -3),
#      LADDER_GAMES (100) each under the ladder's rules, rated with the ladder's own games
#      (scripts/ladder_elo.py; where Fairy-Stockfish is installed); the raw policy (argmax),
#      whatever USI_ARGS the USI games had;
#   The USI games' engine plays the first of the network's argmax and its 16 likeliest moves
#   that keeps about the most material after the opponent's reply and our recapture, a move
#   that mates at once where there is one, never a move that lets the opponent mate at once
#   where one of its 32 likeliest does not (USI_ARGS="--mate-in-one --avoid-mate-in-one
#   --material-lookahead", the default: the play-time tactics) and passes over repetitions
#   while ahead.
#   5. the Elo curve of the evaluations during training (PNG), and the HTML reports (python -m
#      shogi_jax.report) of the run and of the tournament.
# Usage: [SEED=0] [FSF_GAMES=200] [LADDER_GAMES=100] [USI_ARGS="--mate-in-one --simulations 32"]
#        scripts/learning_bar.sh [RUN_DIR] [USI_GAMES]
#        (needs: pip install -e ".[test]"; Fairy-Stockfish: apt-get install fairy-stockfish).
#        SEED is train.seed; USI_ARGS go to our USI engine (e.g. a search).
# Fairy-Stockfish at 50 ms a move is weaker on a busy machine: run the bar alone.
# To repeat exactly the same training on any machine, replace the time limit by the iteration
# count the documented run reached: TRAIN_LIMIT="--set train.iterations=996" (docs/benchmarks.md).
# TRAIN_LIMIT's settings come last, so they override the others (a quick dry run:
# TRAIN_LIMIT="--set train.iterations=2 --set evaluation.every_iterations=1" BAR_GAMES=4
# scripts/learning_bar.sh /tmp/bar_try 2).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/learning_bar}
USI_GAMES=${2:-400}
BAR_GAMES=${BAR_GAMES:-400}
OUT="$RUN/bar"
TRAIN_LIMIT=${TRAIN_LIMIT:-"--set train.time_limit_minutes=60 --set train.iterations=100000"}
SEED=${SEED:-0}
FSF=${FSF:-/usr/games/fairy-stockfish}
FSF_GAMES=${FSF_GAMES:-200}
LADDER_GAMES=${LADDER_GAMES:-100}
USI_ARGS=${USI_ARGS:---mate-in-one --avoid-mate-in-one --material-lookahead}

# shellcheck disable=SC2086  # TRAIN_LIMIT is a list of arguments
python -m shogi_jax.train --config configs/cpu.yaml --run-dir "$RUN" --quiet \
  --set train.seed="$SEED" \
  --set evaluation.every_iterations=150 --set checkpoint.every_iterations=150 $TRAIN_LIMIT

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # absolute: cshogi starts each engine as one command, from anywhere
cat > "$OUT/tournament.yaml" <<EOF
players:
  - {name: random, kind: random}
  - {name: greedy, kind: greedy}
  - {name: trained, kind: policy, run_dir: $RUN, checkpoint: latest, temperature: 0.0}
games_per_pairing: $BAR_GAMES
random_opening_plies: 4
max_plies: 512
impasse: true
anchor: random
seed: 0
output_dir: $OUT/tournament
EOF
python -m shogi_jax.tournament --config "$OUT/tournament.yaml" --quiet

USI_GAMES=$USI_GAMES FSF=$FSF FSF_GAMES=$FSF_GAMES USI_ARGS=$USI_ARGS scripts/usi_bar.sh "$RUN" "$OUT"

if [ -x "$FSF" ]; then  # the rungs' names and settings are configs/ladder.yaml's
  {
    echo "pairing: gauntlet"
    echo "players:"
    echo "  - {name: trained, kind: policy, run_dir: $RUN, checkpoint: latest, temperature: 0.0}"
    echo "  - {name: random, kind: random}"
    echo "  - {name: greedy, kind: greedy}"
    for skill in -5 -4 -3; do
      echo "  - {name: fairy_skill${skill}_d1, kind: usi, command: $FSF,"
      echo "     options: [\"Threads=1\", \"Skill Level=$skill\"], depth: 1}"
    done
    echo "games_per_pairing: $LADDER_GAMES"
    echo "random_opening_plies: 4"
    echo "max_plies: 320"
    echo "impasse: true"
    echo "anchor: random"
    echo "seed: $SEED"
    echo "output_dir: $OUT/ladder"
  } > "$OUT/ladder.yaml"
  rm -rf "$OUT/ladder"  # a rerun places the network trained now
  python -m shogi_jax.tournament --config "$OUT/ladder.yaml" --quiet
  python scripts/ladder_elo.py "$OUT/ladder" docs/ladder_games/ladder_pass2_low.jsonl.gz \
    --order random greedy fairy_skill-5_d1 fairy_skill-4_d1 fairy_skill-3_d1 \
    --players trained | tee "$OUT/ladder_elo.md"
  python scripts/usi_results.py "$OUT/ladder" --player trained >> "$OUT/ladder_elo.md"
fi

python scripts/plot_elo.py "$RUN" --output "$OUT/elo.png" --x minutes
python -m shogi_jax.report "$RUN" --output "$OUT/run_report.html"
python -m shogi_jax.report "$OUT/tournament"
echo "tournament: $OUT/tournament/results.md; USI: $OUT/usi_results.md; Elo curve: $OUT/elo.png"
echo "on the ladder: $OUT/ladder_elo.md"
echo "pages to look at: $OUT/run_report.html, $OUT/tournament/report.html"
