"""Judge throughput against a bare transformers forward loop on the same model and batches.

    python benchmarks/quality_judge.py [--model curate/qwen2-standin] [--docs 200] [--max-doc-tokens 256]

Measured in one run on the same prompts (the sample documents in the web/code/math rubrics):

* ``curate QwenJudge``: tokenise, length-sorted token-budget batches, forward, digit scores
  (with and without the perplexity column);
* ``bare forward, same batches``: ``model(input_ids, attention_mask, position_ids,
  logits_to_keep=1)`` over the judge's own padded batches, nothing else: the floor;
* ``bare forward, full logits``: the same without ``logits_to_keep`` (what a naive loop does).

Also printed: padding waste (padded / total tokens) with and without length sorting. With the
stand-in (2 layers, hidden 64) the vocabulary projection dominates; on a real Qwen2.5-0.5B the
transformer body does: ``--size 0.5b`` builds a random-weight model of Qwen2.5-0.5B's shape (24
layers, hidden 896, 14 heads, 2 KV heads) with the Qwen tokenizer, no download needed; on a GPU
machine that measures real-size throughput.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from curate.models.loading import ModelSpec, load_causal_lm
from curate.models.prompting import left_padded
from curate.quality.judge import QwenJudge

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample_documents(n: int) -> tuple[list[str], list[str]]:
    docs = [(json.loads(line)["text"], "web") for path in sorted((SAMPLES / "web").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]
    docs += [(json.loads(line)["body"], "math") for line in (SAMPLES / "math" / "problems.jsonl").read_text().splitlines()]
    docs += [(p.read_text(encoding="utf-8", errors="replace"), "code") for p in sorted((SAMPLES / "code").rglob("*.py"))]
    docs = (docs * (n // len(docs) + 1))[:n]
    return [t for t, _ in docs], [d for _, d in docs]


def padded_batches(judge: QwenJudge, prompts, groups):
    return [left_padded([prompts[i].ids for i in group], judge.pad_id) for group in groups]


def padding_waste(prompts, groups) -> float:
    real = sum(len(p.ids) for p in prompts)
    total = sum(max(len(prompts[i].ids) for i in g) * len(g) for g in groups)
    return 1 - real / total


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="curate/qwen2-standin")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--max-doc-tokens", type=int, default=256)
    parser.add_argument("--token-budget", type=int, default=8192)
    parser.add_argument("--size", choices=["tiny", "0.5b"], default=None,
                        help="judge a random-weight Qwen2 of this shape instead of --model")
    args = parser.parse_args()

    if args.size == "0.5b":
        import tempfile

        from curate.models.standin import make_standin

        args.model = str(make_standin(Path(tempfile.mkdtemp()) / "qwen2.5-0.5b-shape", hidden_size=896, layers=24,
                                      heads=14, kv_heads=2, intermediate_size=4864))
    loaded = load_causal_lm(ModelSpec(id=args.model))
    texts, domains = sample_documents(args.docs)
    judge = QwenJudge(loaded, max_doc_tokens=args.max_doc_tokens, token_budget=args.token_budget, perplexity=False)
    prompts = judge.prompts(texts, domains)
    groups = judge.batches(prompts)
    tokens = sum(len(p.ids) for p in prompts)
    batches = padded_batches(judge, prompts, groups)
    device = loaded.device
    judge.judge(texts[:8], domains[:8])  # warm up

    def bare(keep_one: bool) -> None:
        with torch.inference_mode():
            for ids, mask, pos in batches:
                kwargs = {"logits_to_keep": 1} if keep_one else {}
                loaded.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                             position_ids=pos.to(device), **kwargs).logits[:, -1].float().softmax(-1)

    timings = {}
    for label, fn in (
        ("curate QwenJudge (scores)", lambda: judge.judge(texts, domains)),
        ("bare forward, same batches, logits_to_keep=1", lambda: bare(True)),
        ("bare forward, same batches, full logits", lambda: bare(False)),
    ):
        start = time.perf_counter()
        fn()
        timings[label] = time.perf_counter() - start
    judge.perplexity = True
    start = time.perf_counter()
    judge.judge(texts, domains)
    timings["curate QwenJudge (scores + perplexity)"] = time.perf_counter() - start

    floor = timings["bare forward, same batches, logits_to_keep=1"]
    table = Table(title=f"Judge throughput: {args.model} on {device}, {len(texts)} docs, {tokens:,} prompt tokens, "
                        f"{torch.get_num_threads()} threads")
    for column in ("path", "prompt tokens/s", "vs bare (same batches)"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for label, seconds in timings.items():
        table.add_row(label, f"{tokens / seconds:,.0f}", f"{floor / seconds:.2f}x")
    Console().print(table)
    unsorted = [list(range(i, min(i + len(groups[0]), len(prompts)))) for i in range(0, len(prompts), len(groups[0]))]
    Console().print(f"padding waste: {padding_waste(prompts, groups):.1%} with length-sorted batches, "
                    f"{padding_waste(prompts, unsorted):.1%} in input order (same batch size)")

    # The distilled scorer that replaces the judge on the rest of the corpus.
    from curate.quality.distill import DistilledScorer

    scores = [j.score for j in judge.judge(texts, domains)]
    scorer = DistilledScorer.train(texts, [min(5.0, s * 2) for s in scores])
    corpus = texts * max(1, 20000 // len(texts))
    start = time.perf_counter()
    scorer.score(corpus)
    seconds = time.perf_counter() - start
    Console().print(f"distilled fastText scorer: {len(corpus) / seconds:,.0f} documents/s on one thread "
                    f"(judge: {len(texts) / timings['curate QwenJudge (scores)']:,.1f} documents/s)")


if __name__ == "__main__":
    main()
