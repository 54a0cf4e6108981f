"""Model stages talk to models only through a ModelBackend chosen by ``model: {backend: ...}``;
a new backend is one module and one registry entry (here: tests/example_backends.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError

from curate.models.backend import BACKENDS, JudgeOptions, TransformersBackend
from curate.models.host import ModelHost
from curate.models.loading import ModelSpec
from curate.models.standin import STANDIN_ID
from curate.schema import BASE_SCHEMA
from curate.stages.quality import QualityConfig, QualityJudge
from curate.synth.generator import SamplingConfig
from tests.example_backends import CountingBackend

TEXTS = ["The mitochondria is the powerhouse of the cell, producing ATP through respiration.",
         "buy cheap pills now now now click here", "def add(a, b):\n    return a + b\n"]


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(BACKENDS, "counting", CountingBackend)  # the one line a new backend adds
    return ModelSpec(id=STANDIN_ID, backend="counting")


def test_unknown_backend_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="unknown model backend .vllm. \\(known: openai, transformers"):
        ModelSpec(id=STANDIN_ID, backend="vllm")


def test_the_quality_stage_judges_through_the_configured_backend(counting: ModelSpec) -> None:
    stage = QualityJudge(QualityConfig(model=counting, max_doc_tokens=48), key="quality")
    stage.setup()
    rows = [{"id": f"d{i}", "text": t, "source": "s", "domain": "web"} for i, t in enumerate(TEXTS)]
    scored = stage.process(pa.Table.from_pylist(rows, schema=BASE_SCHEMA))
    assert stage.backend.calls == {"judge": 3, "generate": 0}
    # the same numbers as the transformers backend gives directly
    direct = TransformersBackend(ModelSpec(id=STANDIN_ID))
    direct.load()
    expected = [j.score for j in direct.judge(TEXTS, ["web"] * 3, JudgeOptions(max_doc_tokens=48))]
    assert scored.column("quality_score").to_pylist() == pytest.approx(expected, abs=1e-6)


def test_the_model_host_generates_and_judges_through_the_backend(counting: ModelSpec) -> None:
    host = ModelHost(counting.model_dump(), judge=JudgeOptions(max_doc_tokens=32).model_dump(),
                     sampling=SamplingConfig(max_new_tokens=8).model_dump(), max_doc_tokens=64)
    jobs = [{"source_text": t, "template": "Rewrite this:\n\n{document}", "system_prompt": None} for t in TEXTS[:2]]
    made = host.generate(jobs)
    assert len(made) == 2 and all(0 < g.new_tokens <= 8 for g in made)
    judged = host(pa.table({"id": ["a", "b"], "text": TEXTS[:2], "domain": ["web", "web"]}))
    assert judged.column_names == ["id", "text", "score"] and judged.num_rows == 2
    assert host.backend.calls == {"judge": 2, "generate": 2}
