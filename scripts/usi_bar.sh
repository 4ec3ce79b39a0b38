#!/usr/bin/env bash
# A trained run through our USI engine under cshogi's runner (`python -m cshogi.cli`: cshogi
# referees every move): USI_GAMES (400) games against our random and greedy USI engines and,
# where it is installed, FSF_GAMES (200) against Fairy-Stockfish at Skill Level 0 with 50 ms a
# move (byoyomi; ours has 1 s); then how each game ended (scripts/usi_results.py: mate,
# resignation, declaration, repetition, ...) in OUT_DIR/usi_results.md. The USI part of the
# learning bar (scripts/learning_bar.sh; issue 26 point 3).
# Usage: [USI_GAMES=400] [FSF_GAMES=200] [USI_ARGS="--simulations 32"] [FSF=path]
#        scripts/usi_bar.sh RUN_DIR OUT_DIR
# Fairy-Stockfish at 50 ms a move is weaker on a busy machine: play its games alone
# (FSF_GAMES=0 leaves them out).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: scripts/usi_bar.sh RUN_DIR OUT_DIR" >&2; exit 2; }
RUN=$1
USI_GAMES=${USI_GAMES:-400}
FSF=${FSF:-/usr/games/fairy-stockfish}
FSF_GAMES=${FSF_GAMES:-200}
USI_ARGS=${USI_ARGS:-}
mkdir -p "$2"
OUT=$(cd "$2" && pwd)  # absolute: cshogi starts each engine as one command, from anywhere

# shellcheck disable=SC2086  # USI_ARGS is a list of arguments
python -m shogi_jax.usi --checkpoint "$RUN" $USI_ARGS --write-launcher "$OUT/trained.sh"
python -m shogi_jax.usi --player random --write-launcher "$OUT/random.sh"
python -m shogi_jax.usi --player greedy --write-launcher "$OUT/greedy.sh"
rm -f "$OUT"/usi_vs_*.csa  # cshogi appends: a rerun must not count old games
for opponent in random greedy; do
  python -m cshogi.cli "$OUT/trained.sh" "$OUT/$opponent.sh" --games "$USI_GAMES" --keep-process \
    --time 600000 --draw 512 --name1 trained --name2 "$opponent" \
    --csa "$OUT/usi_vs_$opponent.csa" --multi-csa | tail -n 7 | tee "$OUT/usi_vs_$opponent.txt"
done
if [ "$FSF_GAMES" -gt 0 ] && [ -x "$FSF" ]; then
  python -m cshogi.cli "$OUT/trained.sh" "$FSF" --options2 "Skill Level:0,Threads:1" \
    --games "$FSF_GAMES" --keep-process --byoyomi 1000 50 --draw 512 --name1 trained \
    --name2 fairy_skill0_50ms --csa "$OUT/usi_vs_fairy_skill0_50ms.csa" --multi-csa \
    | tail -n 7 | tee "$OUT/usi_vs_fairy_skill0_50ms.txt"
elif [ "$FSF_GAMES" -gt 0 ]; then
  echo "no Fairy-Stockfish at $FSF (apt-get install fairy-stockfish): its games are left out" >&2
fi
python scripts/usi_results.py "$OUT"/usi_vs_*.csa --player trained | tee "$OUT/usi_results.md"
