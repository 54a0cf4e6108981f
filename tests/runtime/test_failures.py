"""A stage that raises fails the run loudly, names the stage, and commits nothing."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLES, run_cli

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
    config = tmp_path / "pipeline.yaml"  # a user's stage after one that keeps documents: no model stages to wait for
    config.write_text(f"""name: boom
output_dir: {out}
sources:
  - {{name: web, paths: ["{SAMPLES}/web/*.jsonl"], domain: web}}
stages:
  filter: {{filters: [{{name: length, min_chars: 20}}]}}
  boom: {{uses: "exploding_stage:Explode"}}
""")
    result = run_cli(str(config), env={"PYTHONPATH": str(tmp_path / "plugin")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'boom' failed" in result.stderr
    assert "ValueError: deliberate failure in a test stage" in result.stderr
    assert "nothing was committed" in result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr  # a message, not a stack dump
    assert not (out / "_SUCCESS").exists()
    assert not (out / "documents").exists() and not (out / "tokens").exists()
    assert not (out / "_staging").exists()
