"""`python -m shogi_jax.report PATH [--output FILE] [--no-analysis] [--pieces latin]`: one
self-contained HTML page about a training run or a tournament.

PATH is a training run directory (it holds config.yaml and metrics.jsonl) or a tournament
directory (results.json and games.jsonl). The page (default PATH/report.html) has everything
inline: charts drawn as SVG, the tables, the games with a viewer to replay them (buttons, or the
Left / Right keys). It loads nothing from anywhere, so it opens from a disk or a CI artifact;
links to game records (KIF, CSA) are relative to where the page is written. Where a player is a
network, its checkpoint is loaded and the viewer shows the network's value and top moves at each
ply it moved (`shogi_jax.reports.analysis`); --no-analysis leaves that out. The boards are
drawn in the page's own font, so they read on a machine without Japanese fonts; --pieces latin
writes the pieces in SFEN's letters (P L N S G B R K, promoted +P +L +N +S +B +R) and the
ranks a..i, for readers who do not read kanji.

The page is written atomically: into a temporary file beside it, renamed over it at the end,
so a report that exists is whole, and a failed run leaves an existing report as it was. Exit
status 2, with a message naming the path and the fault, when PATH is neither kind of directory
or a file in it is missing or unreadable.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shogi_jax.host.paths import PathNotServed, served_path, write_text_atomically
from shogi_jax.notation.records import GAMES_LOG
from shogi_jax.reports import ReportError
from shogi_jax.reports.lettering import LETTERINGS
from shogi_jax.reports.run import run_report
from shogi_jax.reports.tournament import RESULTS_FILE, tournament_report
from shogi_jax.train.run_directory import CONFIG_FILE, METRICS_FILE

REPORT_FILE = "report.html"
# What marks each kind of directory, and how its page is made.
KINDS = {"training run": ((CONFIG_FILE, METRICS_FILE), run_report),
         "tournament": ((RESULTS_FILE, GAMES_LOG), tournament_report)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.report", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n  python -m shogi_jax.report runs/cpu\n"
               "  python -m shogi_jax.report tournaments/t1 --output t1.html")
    parser.add_argument("path", help="a training run or tournament directory (local, gs:// "
                                     "or s3://)")
    parser.add_argument("--output",
                        help=f"the HTML file to write (default: PATH/{REPORT_FILE})")
    parser.add_argument("--no-analysis", dest="analysis", action="store_false",
                        help="leave out the networks' value and top moves at each ply (they "
                             "come from loading the players' checkpoints and running them)")
    parser.add_argument("--pieces", choices=tuple(LETTERINGS), default="kanji",
                        help="how the boards write the pieces: kanji (the default), or latin: "
                             "SFEN's letters, promoted +P ... +R, ranks a..i")
    return parser.parse_args(argv)


def directory_kind(path: Path) -> str:
    """Which kind of directory `path` is (a key of KINDS); ReportError naming what is missing
    when it is neither."""
    if not path.exists():
        raise ReportError(f"{path} does not exist")
    if not path.is_dir():
        raise ReportError(f"{path} is not a directory")
    for kind, (files, _) in KINDS.items():
        present = [name for name in files if (path / name).is_file()]
        if len(present) == len(files):
            return kind
        if present:
            missing = ", ".join(name for name in files if name not in present)
            raise ReportError(f"{path} looks like a {kind} directory ({', '.join(present)}) but "
                              f"has no {missing}")
    wanted = "; ".join(f"a {kind} holds {' and '.join(files)}"
                       for kind, (files, _) in KINDS.items())
    raise ReportError(f"{path} is neither a training run nor a tournament directory ({wanted})")


def make_report(path: Path, output: Path, *, analysis: bool = True, pieces: str = "kanji") -> str:
    """The HTML page of the directory `path`, to be written at `output`, its boards' pieces in
    `lettering.LETTERINGS[pieces]`."""
    _, make_page = KINDS[directory_kind(path)]
    if not output.parent.is_dir():
        raise ReportError(f"--output {output}: the directory {output.parent} does not exist")
    return make_page(path, output.parent, analyse=analysis, pieces=pieces)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        path = served_path(args.path, what="the directory")
        output = served_path(args.output, what="--output") if args.output else path / REPORT_FILE
    except PathNotServed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        # Everything is read and built before any write.
        text = make_report(path, output, analysis=args.analysis, pieces=args.pieces)
    except (ReportError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        write_text_atomically(output, text)
    except OSError as error:
        print(f"error: cannot write {output}: {error}", file=sys.stderr)
        return 2
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
