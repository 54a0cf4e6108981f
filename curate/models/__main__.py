"""Model housekeeping from the command line.

    python -m curate.models fetch pipelines/web_remote.yaml   # download every model a pipeline names
    python -m curate.models standin [DIR]                     # build the offline Qwen2 stand-in

``fetch`` is what to run on a machine with internet before a run on one without: it fills the
Hugging Face cache (``HF_HOME``) that the offline machine then reads.
"""

from __future__ import annotations

import argparse
import sys


def models_named(config_path: str) -> list:
    """The ModelSpec of every stage of a pipeline that names a model."""
    from curate.config import load_config
    from curate.models.loading import ModelSpec

    loaded = load_config(config_path)
    return [(spec.key, spec.options.model) for spec in loaded.stages
            if isinstance(getattr(spec.options, "model", None), ModelSpec)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download the models a pipeline names into the Hugging Face cache")
    fetch.add_argument("config")
    standin = commands.add_parser("standin", help="build the offline Qwen2-architecture stand-in")
    standin.add_argument("dir", nargs="?", default=None)
    args = parser.parse_args(argv)

    if args.command == "standin":
        from curate.models.standin import ensure_standin, make_standin

        print(make_standin(args.dir) if args.dir else ensure_standin())
        return 0
    from curate.models.loading import ModelUnavailable, resolve

    failed = 0
    for key, spec in models_named(args.config):
        try:
            print(f"stages.{key}: {spec.id} -> {resolve(spec)}")
        except ModelUnavailable as exc:
            print(f"stages.{key}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
