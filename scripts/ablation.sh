#!/usr/bin/env bash
# Where the learning time goes (issue 26, point 4): each row trains configs/cpu.yaml with one
# change for MINUTES of wall clock (30) from one seed, then one round robin of all rows' final
# networks (raw policy, argmax) with random, greedy-material and Fairy-Stockfish at Skill Level 0
# with 50 ms a move (the bar's engine; skipped when /usr/games/fairy-stockfish is missing).
#   today    configs/cpu.yaml at BASELINE_REV (d23ddf9: the shaping before it was potential-
#            based, no staggered starts), from a git worktree of that commit
#   base     no shaping, no staggered starts: none of the fixes
#   shaping  + potential-based material shaping (cpu.yaml's weights)
#   stagger  + staggered starts (128 plies)
#   wdl      + the win/draw/loss value head
#   gamma1   + gamma 1 (no discount)
#   pool     + an opponent pool (one game in 4; a member joins every 25 iterations; 8 kept)
#   all      + all of the above but gamma
#   az       configs/cpu_az.yaml (gumbel_az, staggered starts)
# Usage: scripts/ablation.sh [OUT_DIR]   (ROWS="base pool" runs some; GAMES per pairing, 64)
# Run it on a quiet machine, nothing else running: rows are compared at equal wall clock, and
# the machine's speed decides the iterations each reaches (recorded in OUT_DIR/rows.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-runs/ablation}" && cd "${1:-runs/ablation}" && pwd)
MINUTES=${MINUTES:-30}
GAMES=${GAMES:-64}
SEED=${SEED:-0}
BASELINE_REV=${BASELINE_REV:-d23ddf9}
ROWS=${ROWS:-"today base shaping stagger wdl gamma1 pool all az"}
NO_FIXES="--set reward_shaping.material_weight=0 --set env.stagger_plies=0"
POOL="--set pool.share=0.25 --set pool.add_every_iterations=25 --set pool.size=8"

row_settings() {
  case "$1" in
    today)   echo "" ;;
    base)    echo "$NO_FIXES" ;;
    shaping) echo "--set env.stagger_plies=0" ;;
    stagger) echo "--set reward_shaping.material_weight=0" ;;
    wdl)     echo "$NO_FIXES --set model.value_head=wdl" ;;
    gamma1)  echo "$NO_FIXES --set ppo.gamma=1.0" ;;
    pool)    echo "$NO_FIXES $POOL" ;;
    all)     echo "--set model.value_head=wdl $POOL" ;;
    az)      echo "" ;;
    *) echo "unknown row $1" >&2; exit 2 ;;
  esac
}

for row in $ROWS; do
  run="$OUT/$row"
  if [ -e "$run" ]; then echo "== $row: $run exists, kept"; continue; fi
  config=configs/cpu.yaml; here=.
  [ "$row" = az ] && config=configs/cpu_az.yaml
  if [ "$row" = today ]; then
    here="$OUT/baseline_worktree"
    [ -d "$here" ] || git worktree add --detach "$here" "$BASELINE_REV"
  fi
  echo "== $row $(date -u +%H:%M:%S)"
  # shellcheck disable=SC2046  # row_settings is a list of arguments
  (cd "$here" && PYTHONPATH="$PWD" python -m shogi_jax.train --config "$config" --run-dir "$run" \
     --quiet --set train.seed="$SEED" --set train.time_limit_minutes="$MINUTES" \
     --set train.iterations=100000 --set evaluation.every_iterations=0 \
     $(row_settings "$row")) > "$OUT/$row.log" 2>&1
  tail -n 1 "$OUT/$row.log"
done

{
  echo "| row | settings | iterations | env steps |"
  echo "|---|---|---:|---:|"
  for row in $ROWS; do
    python - "$OUT/$row" "$row" "$(row_settings "$row")" <<'EOF'
import sys
from shogi_jax.run_directory import read_metrics
run, row, settings = sys.argv[1:]
last = read_metrics(run)[-1]
print(f"| {row} | {settings or '(the config as shipped)'} | {last['iteration']} | "
      f"{int(last['env_steps']):,} |")
EOF
  done
} > "$OUT/rows.md"
cat "$OUT/rows.md"

{
  echo "pairing: round_robin"
  echo "players:"
  echo "  - {name: random, kind: random}"
  echo "  - {name: greedy, kind: greedy}"
  if [ -x /usr/games/fairy-stockfish ]; then
    echo "  - {name: fairy_skill0_50ms, kind: usi, command: /usr/games/fairy-stockfish,"
    echo "     options: [\"Skill Level=0\", \"Threads=1\"], movetime_ms: 50}"
  fi
  for row in $ROWS; do
    echo "  - {name: $row, kind: policy, run_dir: $OUT/$row, temperature: 0.0}"
  done
  echo "games_per_pairing: $GAMES"
  echo "random_opening_plies: 4"
  echo "max_plies: 512"
  echo "impasse: true"
  echo "anchor: random"
  echo "seed: $SEED"
  echo "concurrency: 2"
  echo "output_dir: $OUT/round_robin"
} > "$OUT/round_robin.yaml"
python -m shogi_jax.tournament --config "$OUT/round_robin.yaml" --quiet
echo "rows: $OUT/rows.md; round robin: $OUT/round_robin/results.md"
