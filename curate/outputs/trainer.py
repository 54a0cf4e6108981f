"""``trainer/``: train/validation shards built from ``tokens/`` by the ``shards:`` block
(mixture, split, seeded global order, packing: :mod:`curate.trainer.shards`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from curate.outputs.base import FinalizeContext, Sink
from curate.outputs.tokens import MANIFEST


class TrainerShardsSink(Sink):
    name: ClassVar[str] = "trainer"
    folder: ClassVar[str] = "trainer"
    always_present: ClassVar[bool] = False

    def __init__(self, shards: Any) -> None:
        self.shards = shards  # curate.config.ShardsConfig

    def finalize(self, staging: Path, ctx: FinalizeContext) -> dict[str, Any]:
        from curate.trainer.shards import build_shards

        manifest = json.loads((staging / "tokens" / MANIFEST).read_text(encoding="utf-8"))
        trainer = build_shards(staging / "tokens", staging / self.folder, self.shards, manifest)
        return {"trainer": {split: {k: v for k, v in info.items() if k != "shards"}
                            for split, info in trainer["splits"].items()} | {"mixture": trainer["mixture"]}}
