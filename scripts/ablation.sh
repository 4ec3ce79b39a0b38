#!/usr/bin/env bash
# Where the learning time goes (issue 26, point 4): each row trains configs/cpu.yaml with one
# change for the same wall clock from one seed, then one round robin of all rows' final networks
# (raw policy, argmax) with rungs of the ladder (docs/ladder.md) around their strength.
#   today    configs/cpu.yaml at BASELINE_REV (d23ddf9: the shaping before it was potential-
#            based, no staggered starts), from a git worktree of that commit
#   base     no shaping, no staggered starts: none of the fixes
#   shaping  + potential-based material shaping (cpu.yaml's weights)
#   stagger  + staggered starts (128 plies)
#   wdl      + the win/draw/loss value head
#   gamma1   + gamma 1 (no discount)
#   pool     + an opponent pool (one game in 4; a member joins every 25 iterations; 8 kept)
#   all      + all of the above but gamma
#   fixes    + shaping, staggered starts and the W/D/L head: all but the pool and gamma (trained
#            after the round robin of the others; placed by PHASES=gauntlet)
#   az       configs/cpu_az.yaml (gumbel_az, staggered starts) with 4 simulations and 4
#            considered root moves a ply, as it was first shipped
#   az8      az with 8 simulations and 8 considered root moves  } issue 25's sizing of cpu_az.yaml
#   az16     az with 16 simulations and 16 considered root moves} (placed by PHASES=gauntlet);
#                                                                 az8 won: cpu_az.yaml since
#
# Equal wall clock, any machine: a row trains a fixed number of iterations, not minutes, so its
# network is the same on a slow, fast or busy machine (training is deterministic; an interrupted
# row resumes from its checkpoint to the same result), and rows can run in several sessions or
# side by side. "30 minutes" is ITERATIONS (498) of cpu.yaml: the learning bar's machine ran 996
# in 60 minutes (docs/benchmarks.md). Rows whose iteration costs differ (the pool's extra
# forward passes, the search of az) get the iterations that fit the same wall clock, from their
# env steps/s relative to `base`, measured here on a quiet machine in one run (phase speed;
# OUT_DIR/speed.md). The opponents are ladder rungs limited by depth, never time, so the round
# robin is load-independent too, and each row gets an Elo on the ladder's scale.
#
# Usage: scripts/ablation.sh [OUT_DIR]          (default runs/ablation)
#   ROWS="base pool"   the rows (default all nine)
#   PHASES="speed train keep play"   (default these four; phase speed only for rows that need it;
#            phase gauntlet places ROWS trained after the round robin, see below)
#   ITERATIONS=498  SEED=0  GAMES=64 (per pairing)  BASELINE_REV=d23ddf9  SPEED_ITERATIONS=12
#   SEARCH_ROWS="today az"   rows that also play searching (32 simulations, the search player's
#                            defaults otherwise, as ROW_search32):
#                            issue 25's PPO against gumbel_az with and without search at play
#   KEEP=docs/ablation       where phase keep copies what the ablation needs to go on elsewhere
# Two shells with disjoint ROWS and PHASES=train train side by side; then PHASES=play.
# A row added after the round robin: ROWS=fixes PHASES="train keep gauntlet" plays it against
# the rungs and GAUNTLET_OPPONENTS (default "today base shaping wdl all"), GAMES a pairing, and
# rates every row again (OUT/ladder_elo.md).
#
# Across machines: OUT is scratch, and a session's machine may be gone the next day. Phase keep
# (PHASES=keep, any time, also while rows train or play) copies speed.json, each row's config,
# metrics and latest checkpoint and the round robin's games into KEEP, which git tracks; train
# and play restore what OUT lacks from there and resume it (rows bit-exactly), so a row's 498
# iterations and the round robin may span sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-runs/ablation}" && cd "${1:-runs/ablation}" && pwd)
ITERATIONS=${ITERATIONS:-498}
SPEED_ITERATIONS=${SPEED_ITERATIONS:-12}
GAMES=${GAMES:-64}
SEED=${SEED:-0}
BASELINE_REV=${BASELINE_REV:-d23ddf9}
ROWS=${ROWS:-"today base shaping stagger wdl gamma1 pool all az"}
PHASES=${PHASES:-"speed train keep play"}
SEARCH_ROWS=${SEARCH_ROWS-"today az"}
GAUNTLET_OPPONENTS=${GAUNTLET_OPPONENTS:-"today base shaping wdl all"}
KEEP=${KEEP:-docs/ablation}
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
    fixes)   echo "--set model.value_head=wdl" ;;
    az)      echo "--set gumbel_az.simulations=4 --set gumbel_az.max_considered_actions=4" ;;
    az8)     echo "--set gumbel_az.simulations=8 --set gumbel_az.max_considered_actions=8" ;;
    az16)    echo "--set gumbel_az.simulations=16 --set gumbel_az.max_considered_actions=16" ;;
    *) echo "unknown row $1" >&2; exit 2 ;;
  esac
}
row_config() { case "$1" in az*) echo configs/cpu_az.yaml ;; *) echo configs/cpu.yaml ;; esac; }
# The rows whose iteration costs more or less than base's (the others differ from base only in
# the targets they learn, the start plies or a 3-way value output).
costs_differ() { case "$1" in pool|all|az*) return 0 ;; *) return 1 ;; esac; }
speed_row() { if [ "$1" = all ]; then echo pool; else echo "$1"; fi; }  # all costs what pool costs

# Trains ROW (new, or resumed from its latest checkpoint) to ITERS iterations in DIR.
train_row() {
  local row=$1 dir=$2 iters=$3 here=. resume=()
  if [ "$row" = today ]; then
    here="$OUT/baseline_worktree"
    [ -d "$here" ] || git worktree add --detach "$here" "$BASELINE_REV" >&2
  fi
  [ -f "$dir/config.yaml" ] && resume=(--resume)
  # shellcheck disable=SC2046  # row_settings is a list of arguments
  (cd "$here" && PYTHONPATH="$PWD" python -m shogi_jax.train --config "$(row_config "$row")" \
     --run-dir "$dir" "${resume[@]}" --quiet --set train.seed="$SEED" \
     --set train.iterations="$iters" --set train.time_limit_minutes=0 \
     --set evaluation.every_iterations=0 --set checkpoint.every_iterations=25 \
     $(row_settings "$row"))
}

restore_row() {  # copies ROW from KEEP into OUT when OUT lacks it (an earlier machine trained it)
  local row=$1
  if [ ! -e "$OUT/$row" ] && [ -f "$KEEP/$row/config.yaml" ]; then
    cp -r "$KEEP/$row" "$OUT/$row"
    echo "== $row: restored from $KEEP/$row (iteration $(last_iteration "$OUT/$row"))"
  fi
}

last_iteration() {  # of a run directory's metrics, 0 when it has none
  python - "$1" <<'EOF'
import sys
from pathlib import Path
from shogi_jax.run_directory import read_metrics
run = Path(sys.argv[1])
print(read_metrics(run)[-1]["iteration"] if (run / "metrics.jsonl").is_file() else 0)
EOF
}

row_iterations() {  # the row's budget: ITERATIONS, scaled by its measured speed where it differs
  if ! costs_differ "$1"; then echo "$ITERATIONS"; return; fi
  [ -f "$OUT/speed.json" ] || [ ! -f "$KEEP/speed.json" ] || cp "$KEEP/speed.json" "$OUT/speed.json"
  python - "$OUT/speed.json" "$(speed_row "$1")" "$ITERATIONS" <<'EOF'
import json, sys
from pathlib import Path
path, row, iterations = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if not path.is_file():
    sys.exit(f"{path} is missing: run PHASES=speed (quiet machine) before training row {row}")
speed = json.loads(path.read_text())
if row not in speed or "base" not in speed:
    sys.exit(f"{path} has no speed of {row} and base: run ROWS='base {row}' PHASES=speed")
base, this = speed["base"], speed[row]
# Equal wall clock: ITERATIONS of base take ITERATIONS * base_steps / base_sps seconds, and ROW
# runs relative_to_base times base's env steps/s (both measured in one run on one machine).
seconds_in_base_steps = iterations * base["env_steps_per_iteration"]
print(round(seconds_in_base_steps * this["relative_to_base"] / this["env_steps_per_iteration"]))
EOF
}

if [[ " $PHASES " == *" speed "* ]]; then
  speed_rows=base
  for row in $ROWS; do costs_differ "$row" && speed_rows="$speed_rows $(speed_row "$row")"; done
  speed_rows=$(echo "$speed_rows" | tr ' ' '\n' | sort -u | tr '\n' ' ')
  if [ "$speed_rows" != "base " ]; then
    echo "== speed of $speed_rows($SPEED_ITERATIONS iterations each; needs a quiet machine)"
    for row in $speed_rows; do
      dir="$OUT/speed/$row"; rm -rf "$dir"
      train_row "$row" "$dir" "$SPEED_ITERATIONS" > "$OUT/speed_$row.log" 2>&1
    done
    python - "$OUT" $speed_rows <<'EOF'
import json, statistics, sys
from pathlib import Path
from shogi_jax.run_directory import read_metrics
out, rows = Path(sys.argv[1]), sys.argv[2:]
path = out / "speed.json"
speed = json.loads(path.read_text()) if path.is_file() else {}
# Machines differ by 3x: a row's budget rests on its speed relative to base measured in the same
# run; rows measured in an earlier run keep the ratio stored then.
for row in rows:
    metrics = read_metrics(out / "speed" / row)
    steady = metrics[2:]  # the first iterations pay for the checkpoint and cache warm-up
    speed[row] = {
        "env_steps_per_second": statistics.median(m["perf/env_steps_per_second"] for m in steady),
        "env_steps_per_iteration": metrics[0]["env_steps"] // metrics[0]["iteration"],
        "iterations_measured": len(steady)}
for row in rows:
    speed[row]["relative_to_base"] = (speed[row]["env_steps_per_second"]
                                      / speed["base"]["env_steps_per_second"])
path.write_text(json.dumps(speed, indent=1) + "\n")
lines = ["| row | env steps / iteration | env steps/s (median) | relative to base (same run) |",
         "|---|---:|---:|---:|"]
lines += [f"| {row} | {s['env_steps_per_iteration']:,} | {s['env_steps_per_second']:,.0f} | "
          f"{s['relative_to_base']:.3f} |" for row, s in speed.items()]
(out / "speed.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
  fi
fi

if [[ " $PHASES " == *" train "* ]]; then
  for row in $ROWS; do
    run="$OUT/$row"; restore_row "$row"; iters=$(row_iterations "$row")
    done_iterations=$(last_iteration "$run")
    if [ "$done_iterations" -ge "$iters" ]; then echo "== $row: $iters iterations, done"; continue; fi
    echo "== $row from iteration $done_iterations to $iters $(date -u +%H:%M:%S)"
    train_row "$row" "$run" "$iters" >> "$OUT/$row.log" 2>&1
    tail -n 1 "$OUT/$row.log"
  done
fi

if [[ " $PHASES " == *" keep "* ]]; then
  mkdir -p "$KEEP"
  for file in speed.json speed.md; do [ ! -f "$OUT/$file" ] || cp "$OUT/$file" "$KEEP/$file"; done
  for row in $ROWS; do
    run="$OUT/$row"
    # Orbax names a finished checkpoint by its iteration alone (one being written has a suffix).
    latest=$(ls "$run/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)
    [ -n "$latest" ] || continue
    staging="$KEEP/.$row.partial"; rm -rf "$staging"; mkdir -p "$staging/checkpoints"
    cp "$run/config.yaml" "$run/metrics.jsonl" "$staging/"
    [ ! -f "$run/config_history.yaml" ] || cp "$run/config_history.yaml" "$staging/"
    cp -r "$run/checkpoints/$latest" "$staging/checkpoints/"
    rm -rf "${KEEP:?}/$row"; mv "$staging" "$KEEP/$row"  # never a half-copied row under its name
    echo "== kept $row at iteration $latest in $KEEP/$row ($(du -sh "$KEEP/$row" | cut -f1))"
  done
  # The tournaments so far (their configs and games; a resume replays nothing else), also while
  # they play: a line cut short by the copy is replayed on resume.
  for dir in "$OUT/round_robin" "$OUT"/gauntlet_*; do
    [ -f "$dir/tournament.yaml" ] || continue
    name=$(basename "$dir"); staging="$KEEP/.$name.partial"
    rm -rf "$staging"; mkdir -p "$staging"
    cp "$dir/tournament.yaml" "$staging/"
    [ ! -f "$dir/results.md" ] || cp "$dir/results.md" "$staging/"
    gzip -c "$dir/games.jsonl" > "$staging/games.jsonl.gz"
    rm -rf "${KEEP:?}/$name"; mv "$staging" "$KEEP/$name"
    echo "== kept $name ($(zcat "$KEEP/$name/games.jsonl.gz" | wc -l) games)"
  done
fi

# The rows' table: iterations, env steps and wall clock of each row given.
rows_table() {
  echo "| row | settings | iterations | env steps | wall clock (s, as measured) |"
  echo "|---|---|---:|---:|---:|"
  for row in "$@"; do
    python - "$OUT/$row" "$row" "$(row_settings "$row")" "$(row_iterations "$row")" <<'EOF'
import sys
from shogi_jax.run_directory import read_metrics
run, row, settings, budget = sys.argv[1:]
last = read_metrics(run)[-1]
if last["iteration"] < int(budget):
    sys.exit(f"row {row} reached {last['iteration']} of its {budget} iterations: train it first")
print(f"| {row} | {settings or '(the config as shipped)'} | {last['iteration']} | "
      f"{int(last['env_steps']):,} | {last['perf/wall_seconds']:,.0f} |")
EOF
  done
}

# A tournament's YAML: PAIRING (round_robin: all pairs; gauntlet: the first player against each
# other), its output NAME under OUT, and the players: the PLACED rows first (a gauntlet's first
# player), the rungs of configs/ladder.yaml around a 30-minute network (the 60-minute one is
# level with Skill -5: greedy 407, Skill -5 at depth 1 456, Skill -4 708 on the ladder, random
# 0), then the OTHER rows, then ROW_search32 for each row of SEARCHING.
tournament_yaml() {
  local pairing=$1 name=$2 placed=$3 others=$4 searching=$5 row skill
  echo "pairing: $pairing"
  echo "players:"
  for row in $placed; do
    echo "  - {name: $row, kind: policy, run_dir: $OUT/$row, temperature: 0.0}"
  done
  echo "  - {name: random, kind: random}"
  echo "  - {name: greedy, kind: greedy}"
  for skill in -5 -4; do
    echo "  - {name: fairy_skill${skill}_d1, kind: usi, command: /usr/games/fairy-stockfish,"
    echo "     options: [\"Threads=1\", \"Skill Level=$skill\"], depth: 1}"
  done
  for row in $others; do
    echo "  - {name: $row, kind: policy, run_dir: $OUT/$row, temperature: 0.0}"
  done
  for row in $searching; do
    echo "  - {name: ${row}_search32, kind: search, run_dir: $OUT/$row, simulations: 32}"
  done
  echo "games_per_pairing: $GAMES"
  echo "random_opening_plies: 4"
  echo "max_plies: 320           # as on the ladder"
  echo "impasse: true"
  echo "anchor: random"
  echo "seed: $SEED"
  echo "concurrency: 0"
  echo "output_dir: $OUT/$name"
}

# Plays OUT/NAME.yaml into OUT/NAME; continues it where OUT/NAME (or, on a new machine, what
# phase keep kept of it in KEEP/NAME) holds games already.
play_tournament() {
  local name=$1
  if [ ! -e "$OUT/$name" ] && [ -f "$KEEP/$name/tournament.yaml" ]; then
    mkdir -p "$OUT/$name"  # an earlier machine's tournament, continued here
    cp "$KEEP/$name/tournament.yaml" "$OUT/$name/"
    zcat "$KEEP/$name/games.jsonl.gz" > "$OUT/$name/games.jsonl"
    echo "== $name: restored from $KEEP/$name"
  fi
  if [ -e "$OUT/$name/tournament.yaml" ]; then
    python -m shogi_jax.tournament --resume --output-dir "$OUT/$name" --quiet
  else
    python -m shogi_jax.tournament --config "$OUT/$name.yaml" --quiet
  fi
}

# Every row played so far on the ladder's scale (OUT/ladder_elo.md), from the round robin's and
# the gauntlets' games with the ladder's own between its rungs.
ladder_elo() {
  local sources=() dir
  for dir in "$OUT/round_robin" "$OUT"/gauntlet_*; do
    [ ! -f "$dir/games.jsonl" ] || sources+=("$dir")
  done
  local players
  players=$(python - "${sources[@]}" <<'EOF'
import sys
from shogi_jax.evaluation.tournament import read_games
names = {game[side] for game in read_games(sys.argv[1:]) for side in ("black", "white")}
print(" ".join(sorted(names - {"random", "greedy", "fairy_skill-5_d1", "fairy_skill-4_d1"})))
EOF
)
  # shellcheck disable=SC2086  # the players are separate arguments
  python scripts/ladder_elo.py "${sources[@]}" docs/ladder_games/ladder_pass2_low.jsonl.gz \
    --order random greedy fairy_skill-5_d1 fairy_skill-4_d1 --players $players \
    > "$OUT/ladder_elo.md"
}

if [[ " $PHASES " == *" play "* ]]; then
  for row in $ROWS; do restore_row "$row"; done
  searching=""  # the rows of SEARCH_ROWS that are in ROWS
  for row in $SEARCH_ROWS; do [[ " $ROWS " != *" $row "* ]] || searching="$searching $row"; done
  # shellcheck disable=SC2086  # the rows are separate arguments
  rows_table $ROWS > "$OUT/rows.md"
  cat "$OUT/rows.md"
  tournament_yaml round_robin round_robin "" "$ROWS" "$searching" > "$OUT/round_robin.yaml"
  play_tournament round_robin
  ladder_elo
  echo "rows: $OUT/rows.md; round robin: $OUT/round_robin/results.md; on the ladder:" \
       "$OUT/ladder_elo.md"
fi

# Rows trained after the round robin (fixes) join it by a gauntlet each: against the rungs
# (their place on the ladder) and the rows of GAUNTLET_OPPONENTS (head to head), GAMES a pairing.
if [[ " $PHASES " == *" gauntlet "* ]]; then
  for row in $ROWS $GAUNTLET_OPPONENTS; do restore_row "$row"; done
  # shellcheck disable=SC2086  # the rows are separate arguments
  rows_table $ROWS > "$OUT/rows_gauntlet.md"
  cat "$OUT/rows_gauntlet.md"
  for row in $ROWS; do
    tournament_yaml gauntlet "gauntlet_$row" "$row" "$GAUNTLET_OPPONENTS" "" \
      > "$OUT/gauntlet_$row.yaml"
    play_tournament "gauntlet_$row"
  done
  ladder_elo
  echo "gauntlets: $OUT/gauntlet_*/results.md; on the ladder: $OUT/ladder_elo.md"
fi
