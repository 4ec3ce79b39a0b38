"""`python -m shogi_jax.tournament --config configs/tournament.yaml`: a round-robin tournament.

Every pair of players plays `games_per_pairing` games, colours alternated, all games of a pairing
batched on the device. Writes to the output directory: results.md / results.json (Elo with 95%
confidence intervals, crosstable, per-pair W/D/L), elo.csv, pairs.csv, crosstable.csv,
games.jsonl, games.sfen (one `sfen ... moves ...` line per game) and games/NNNNN.kifu / .csa.
"""
from __future__ import annotations

import argparse
import sys
from math import comb
from pathlib import Path

from shogi_jax import checkpoint
from shogi_jax.config import (
    ConfigError, PlayerConfig, TournamentConfig, config_reference, load_tournament_config,
)
from shogi_jax.evaluation.tournament import run_tournament
from shogi_jax.metrics import progress_bar


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.tournament", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  python -m shogi_jax.tournament --config configs/tournament.yaml "
               "--set games_per_pairing=20 --output-dir tournaments/t1\n\n"
               "Tournament config keys (key = default  # meaning):\n"
               + "\n".join("  " + line for line in config_reference(TournamentConfig))
               + "\n\nEach entry of players:\n"
               + "\n".join("  " + line for line in config_reference(PlayerConfig)))
    parser.add_argument("--config", required=True, help="tournament YAML (see "
                                                        "configs/tournament.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config value (repeatable)")
    parser.add_argument("--output-dir", help="results directory (overrides output_dir); must not "
                                             "exist yet or be empty")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_tournament_config(args.config, args.overrides)
        output_dir = Path(args.output_dir or config.output_dir)
        if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
            raise ConfigError(f"output directory '{output_dir}' already exists and is not "
                              "empty; choose a new --output-dir")
        total = comb(len(config.players), 2) * config.games_per_pairing
        bar = progress_bar(total, disable=args.quiet, unit="game", desc="tournament")
        try:
            standings, fit = run_tournament(config, progress=bar.update, output_dir=output_dir)
        finally:
            bar.close()
    except (ConfigError, checkpoint.CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for k in sorted(range(len(fit.names)), key=lambda k: -fit.ratings[k]):
        print(f"{fit.names[k]:>16}  Elo {fit.ratings[k]:7.1f}  "
              f"[{fit.ci95_low[k]:7.1f}, {fit.ci95_high[k]:7.1f}]")
    print(f"results in {output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
