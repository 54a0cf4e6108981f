"""``python -m dashboards build OUT_DIR [--compare OTHER_OUT_DIR] [-o report.html]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dashboards",
                                     description="The analysts' view of a curate run, as one self-contained HTML page.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the dashboard page for a run's output dir")
    build.add_argument("output_dir", type=Path, help="a run's output dir (with stats/summary.json)")
    build.add_argument("--compare", type=Path, metavar="OTHER_OUT_DIR", help="a second run to draw beside the first")
    build.add_argument("-o", "--output", type=Path, help="the HTML file to write (default OUT_DIR/dashboard.html)")
    build.add_argument("--label", help="name of the first run in the page (default: its folder name)")
    build.add_argument("--compare-label", help="name of the second run")
    build.add_argument("--per-group", type=int, default=4,
                       help="sampled documents per rejection reason (half that per domain and language for kept ones)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from dashboards.build import build

    start = time.perf_counter()
    target = args.output or args.output_dir / "dashboard.html"
    try:
        path = build(args.output_dir, target, compare=args.compare, labels=(args.label, args.compare_label),
                     per_group=args.per_group)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
