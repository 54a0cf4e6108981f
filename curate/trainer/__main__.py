"""``python -m curate.trainer trace ...``: see :mod:`curate.trainer.trace`."""

from __future__ import annotations

import sys

from curate.trainer.trace import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "trace":
        print("usage: python -m curate.trainer trace OUT --split SPLIT --shard N (--row R | --document D) "
              "| --group G --sequence S", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[1:]))
