"""Stages that misbehave on purpose, for the fault tests (used as ``uses: tests.fault_stages:Name``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa

from curate.stage import Stage, StageConfig


class MarkerConfig(StageConfig):
    marker: str  # a file: absent = misbehave (and create it), present = behave


class _KillOnce(Stage):
    """SIGKILLs its own worker process on its first batch, like the kernel's OOM killer would."""

    Config = MarkerConfig

    def process(self, batch: pa.Table) -> pa.Table:
        marker = Path(self.config.marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return batch


class KillOnceTask(_KillOnce):
    name = "kill_once_task"


class KillOnceActor(_KillOnce):
    name = "kill_once_actor"
    mode = "actors"


class KillOnceOnSecondBatch(Stage):
    """SIGKILLs its worker on the second batch that worker gives it, once per run (the marker):
    the batch before has already been written, so the rerun must not publish it twice."""

    name = "kill_once_on_second_batch"
    Config = MarkerConfig
    seen = 0  # batches this process has processed

    def process(self, batch: pa.Table) -> pa.Table:
        KillOnceOnSecondBatch.seen += 1
        marker = Path(self.config.marker)
        if KillOnceOnSecondBatch.seen == 2 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return batch


class AlwaysKilled(Stage):
    """Dies on every attempt: Ray's retries run out."""

    name = "always_killed"

    def process(self, batch: pa.Table) -> pa.Table:
        os.kill(os.getpid(), signal.SIGKILL)
        return batch


class Hungry(Stage):
    """Asks for far more memory than any machine has."""

    name = "hungry"

    def process(self, batch: pa.Table) -> pa.Table:
        bytearray(1 << 50)
        return batch


class SleepConfig(StageConfig):
    marker: str  # written when the first batch arrives, so a test knows the run is under way
    seconds: float = 600.0


class Sleepy(Stage):
    """Holds its first batch for a long time: a run that is busy when the test breaks something."""

    name = "sleepy"
    Config = SleepConfig

    def process(self, batch: pa.Table) -> pa.Table:
        import time

        Path(self.config.marker).write_text(str(os.getpid()))
        time.sleep(self.config.seconds)
        return batch
