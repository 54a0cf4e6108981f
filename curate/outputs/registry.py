"""The outputs a run can write, by the name ``outputs:`` uses. Adding an output format: a module
with a :class:`~curate.outputs.base.Sink` subclass, and one line here."""

from __future__ import annotations

from curate.outputs.base import Sink
from curate.outputs.documents import DocumentsSink
from curate.outputs.rejected import RejectedSink
from curate.outputs.tokens import TokensSink
from curate.outputs.trainer import TrainerShardsSink

#: In the order they write and finalise (trainer shards are built from the finalised tokens).
SINKS: dict[str, type[Sink]] = {
    "documents": DocumentsSink,
    "rejected": RejectedSink,
    "tokens": TokensSink,
    "trainer": TrainerShardsSink,
}


def output_folders() -> tuple[str, ...]:
    """Every folder a run may commit: each sink's, then ``stats/`` and ``artifacts/``."""
    return (*dict.fromkeys(sink.folder for sink in SINKS.values()), "stats", "artifacts")
