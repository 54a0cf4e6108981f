"""A stage that raises fails the run loudly, names the stage, and commits nothing."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import QUICKSTART, run_cli

FAILING_STAGE = '''
from curate.stage import Stage


class Explode(Stage):
    """Raises on every batch, like a stage with a bug."""

    name = "explode"

    def process(self, batch):
        raise ValueError("deliberate failure in a test stage")
'''


def test_failing_stage_fails_the_run_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "exploding_stage.py").write_text(FAILING_STAGE)
    out = tmp_path / "out"
    result = run_cli(str(QUICKSTART), f"output_dir={out}", "stages.boom.uses=exploding_stage:Explode",
                     "checkpoint.enabled=false",  # fail at the first batch, not after the quality boundary
                     env={"PYTHONPATH": str(tmp_path / "plugin")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'boom' failed" in result.stderr
    assert "ValueError: deliberate failure in a test stage" in result.stderr
    assert "nothing was committed" in result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr  # a message, not a stack dump
    assert not (out / "_SUCCESS").exists()
    assert not (out / "documents").exists() and not (out / "tokens").exists()
    assert not (out / "_staging").exists()
