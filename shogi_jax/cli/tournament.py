"""`python -m shogi_jax.tournament --config FILE`: a round robin, gauntlet or neighbours match.

The pairs `pairing` names (round_robin: every pair; gauntlet: the first player against each other
one; neighbours: each player with the next in the list) each play `games_per_pairing` games,
colours alternated, all games of a pairing batched on the device. Writes to the output
directory: results.md / results.json (Elo with 95% confidence intervals, crosstable, per-pair
W/D/L), elo.csv, pairs.csv, crosstable.csv,
games.jsonl, games.sfen (one `sfen ... moves ...` line per game), games/NNNNN.kifu / .csa and
tournament.yaml (its config, network players pinned to the checkpoint they loaded).

Each game is written as soon as it ends, the results after every pairing. Ctrl-C or SIGTERM drops
the games still running, writes the results so far and exits 75; `--resume --output-dir DIR`
continues to the same final table as a tournament never stopped.
"""
from __future__ import annotations

import argparse
import sys

from shogi_jax.arena.tournament import run_tournament
from shogi_jax.arena.tournament_config import (
    PlayerConfig,
    TournamentConfig,
    load_tournament_config,
)
from shogi_jax.cli import exit_codes
from shogi_jax.cli import report as report_cli
from shogi_jax.cli.exit_codes import EXIT_CODE_HELP
from shogi_jax.host.paths import served_path
from shogi_jax.host.progress import progress_bar
from shogi_jax.host.settings import ConfigError, settings_reference
from shogi_jax.host.signals import StopRequest
from shogi_jax.play.network import CheckpointError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.tournament", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  python -m shogi_jax.tournament --config configs/tournament.yaml "
               "--set games_per_pairing=20 --output-dir tournaments/t1\n\n"
               "Tournament config keys (key = default  # meaning [constraint]):\n"
               + "\n".join("  " + line for line in settings_reference(TournamentConfig))
               + "\n\nEach entry of players:\n"
               + "\n".join("  " + line for line in settings_reference(PlayerConfig))
               + "\n\n" + EXIT_CODE_HELP)
    parser.add_argument("--config", help="tournament YAML (see configs/tournament.yaml); "
                                         "optional with --resume")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config value (repeatable)")
    parser.add_argument("--output-dir", help="results directory (overrides output_dir); must not "
                                             "exist yet or be empty, unless --resume continues "
                                             "it")
    parser.add_argument("--resume", action="store_true",
                        help="continue the stopped tournament in the output directory with its "
                             "own config (a --config given must be the same one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.config is None and not args.resume:
        parser.error("--config is required (or --resume with --output-dir)")
    if args.config is None and args.overrides:
        parser.error("--set needs --config")
    if args.config is None and args.output_dir is None:
        parser.error("--resume without --config needs --output-dir")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    stop = StopRequest().install()
    try:
        config = (load_tournament_config(args.config, args.overrides) if args.config else None)
        output_dir = served_path(args.output_dir or config.output_dir, what="output directory")
        bars = []  # made once the games already written (on a resume) and the total are known

        def start_bar(written: int, total: int) -> None:
            bars.append(progress_bar(total, written, disable=args.quiet, unit="game",
                                     desc="tournament"))

        try:
            result = run_tournament(config, output_dir=output_dir, resume=args.resume,
                                    progress=lambda n: bars[0].update(n),
                                    should_stop=lambda: bool(stop.requested),
                                    on_start=start_bar)
        finally:
            for bar in bars:
                bar.close()
    except (ConfigError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.REFUSED
    finally:
        stop.restore()
    if not result.complete:
        print(f"{stop.requested or 'stopped'}: {result.games_written} of {result.games_total} "
              f"games written, results so far in {output_dir}; continue with --resume "
              f"--output-dir {output_dir}", file=sys.stderr)
        return exit_codes.STOPPED
    fit = result.fit
    if fit is None:
        print(f"no Elo: {result.no_fit}")
    for k in sorted(range(len(fit.names) if fit else 0), key=lambda k: -fit.ratings[k]):
        print(f"{fit.names[k]:>16}  Elo {fit.ratings[k]:7.1f}  "
              f"[{fit.ci95_low[k]:7.1f}, {fit.ci95_high[k]:7.1f}]")
    print(f"results in {output_dir}")
    # The page to look at: the tables and every game replayable (python -m shogi_jax.report).
    # The results are complete either way; a page that cannot be made is reported, not fatal.
    if report_cli.main([str(output_dir)]) != 0:
        print(f"warning: no report.html in {output_dir} (see above); the results are complete",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
