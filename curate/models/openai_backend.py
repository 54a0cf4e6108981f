"""``backend: openai``: judge and generate through an OpenAI-compatible server.

The prompts are the in-process backend's, built here with the model's own tokenizer and chat
template (:class:`~curate.models.prompting.ChatPrompter`: documents cut at ``max_doc_tokens``,
special-token text in a document kept as text), and sent to ``/completions`` as token ids, so
the server reads exactly what the in-process model would (vLLM, SGLang and llama.cpp take ids;
``prompt_format: text`` sends the same prompt as text for servers that take only text, and
refuses a document whose text holds a special token, which the server would read as one).

* **Judging** asks for one token with ``logprobs``: the score digits' log-probabilities among
  the ``top_logprobs`` most likely, renormalised over the digits as the in-process judge does
  (a digit outside the top ones counts as probability 0: with 20 asked, what that drops is
  measured in the tests). The perplexity column needs the prompt's log-probabilities (``echo``
  with ``logprobs``); a server that does not return them gives no ``quality_nll``.
* **Generating** sends the YAML's sampling: ``temperature`` (0: greedy), ``top_p``,
  ``max_tokens``, ``seed`` (per request; the in-process backend seeds per batch, so only greedy
  outputs are the same on both), and ``repetition_penalty`` when it is not 1.
* Every answer is kept in a :class:`~curate.models.request_cache.RequestCache`: a rerun sends
  only what it has no answer for. Requests go through :class:`~curate.models.client.ServedClient`
  (bounded, balanced, timed out, retried); one that still fails becomes that document's
  ``error`` (an ``inference_error`` row), and past ``max_error_rate`` the stage fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.models.backend import JudgeOptions, ModelBackend
from curate.models.client import InferenceFailed, RequestFailed, ServedClient
from curate.models.loading import LoadedModel, load_tokenizer, resolve
from curate.models.prompting import ChatPrompt, ChatPrompter
from curate.models.request_cache import RequestCache, request_key

COMPLETIONS = "/completions"


class OpenAIBackend(ModelBackend):
    def load(self) -> None:
        spec = self.spec
        path = resolve(spec)
        self.tokenizer = load_tokenizer(spec, path)
        self.loaded = LoadedModel(model=None, tokenizer=self.tokenizer, spec=spec, path=path, device="server")
        self.name = spec.served_name or spec.id
        self.client = ServedClient(spec.base_url, spec.requests, spec.api_key_env)
        self.cache = RequestCache(self.cache_path())
        self.special_texts = sorted({t for t in self.tokenizer.all_special_tokens if t}
                                    | set(self.tokenizer.get_added_vocab()), key=len, reverse=True)
        #: Requests sent and answers reused from the cache, for the tests and the stage's metrics.
        self.sent = self.reused = 0

    def cache_path(self) -> Path:
        if self.spec.cache_dir:
            return Path(self.spec.cache_dir) / "answers.sqlite"
        from curate.tokenizer import cache_dir

        return cache_dir() / "requests" / "answers.sqlite"

    # ------------------------------------------------------------------ judging

    def judge(self, texts: Sequence[str], domains: Sequence[str], options: JudgeOptions) -> list[Any]:
        from curate.quality.judge import SCORE_DIGITS, Judgement

        prompts = self.judge_for(options).prompts(texts, domains) if texts else []  # no model loaded here
        sendable = [self._prompt(p) for p in prompts]
        base = {"model": self.name, "max_tokens": 1, "temperature": 0.0}
        answers = self._complete([{**base, "prompt": p, "logprobs": self.spec.top_logprobs} if not isinstance(p, RequestFailed)
                                  else p for p in sendable])
        echoed: list[Any] = [None] * len(prompts)
        if options.perplexity:  # the prompt up to the document's end, echoed with its logprobs
            heads = [self._prompt(p, end=p.doc_end) if not isinstance(q, RequestFailed) else q
                     for p, q in zip(prompts, sendable)]
            echoed = self._complete([{**base, "prompt": h, "logprobs": 1, "echo": True}
                                     if not isinstance(h, RequestFailed) else h for h in heads])
        out = []
        for prompt, answer, echo in zip(prompts, answers, echoed):
            doc_tokens = prompt.doc_end - prompt.doc_start
            if isinstance(answer, RequestFailed):
                out.append(Judgement(math.nan, -1, math.nan, math.nan, doc_tokens, prompt.truncated, error=answer.cause))
                continue
            top = _first_top_logprobs(answer)
            probs = [math.exp(top[str(d)]) if str(d) in top else 0.0 for d in SCORE_DIGITS]
            mass = sum(probs)
            score = sum(p * d for p, d in zip(probs, SCORE_DIGITS)) / mass if mass > 0 else math.nan
            label = SCORE_DIGITS[max(range(len(probs)), key=probs.__getitem__)]
            pieces = [self.tokenizer.decode([i]) for i in prompt.ids[prompt.doc_start : prompt.doc_end]]
            out.append(Judgement(score, label, mass, _document_nll(echo, prompt, pieces), doc_tokens, prompt.truncated))
        self.client.check_error_rate("judge")
        return out

    # ------------------------------------------------------------------ generating

    def generate(self, jobs: Sequence[dict[str, Any]], sampling: Any, max_doc_tokens: int) -> list[Any]:
        from curate.synth.generator import Generation

        prompter = ChatPrompter(self.tokenizer)
        prompts = prompter.prompts([j["source_text"] for j in jobs], [j["template"] for j in jobs],
                                   max_doc_tokens, [j["system_prompt"] for j in jobs])
        body: dict[str, Any] = {"model": self.name, "max_tokens": sampling.max_new_tokens,
                                "temperature": sampling.temperature, "top_p": sampling.top_p, "seed": sampling.seed}
        if sampling.repetition_penalty != 1.0:
            body["repetition_penalty"] = sampling.repetition_penalty
        sendable = [self._prompt(p) for p in prompts]
        answers = self._complete([{**body, "prompt": p} if not isinstance(p, RequestFailed) else p for p in sendable])
        out = []
        for answer in answers:
            if isinstance(answer, RequestFailed):
                out.append(Generation("", 0, "error", error=answer.cause))
                continue
            choice = _choice(answer)
            text = self._cut_at_special(choice.get("text") or "")
            usage = answer.get("usage") or {}
            tokens = usage.get("completion_tokens")
            if not isinstance(tokens, int):
                tokens = len(self.tokenizer.encode(text, add_special_tokens=False))
            out.append(Generation(text, tokens, "length" if choice.get("finish_reason") == "length" else "stop"))
        self.client.check_error_rate("synthesize")
        return out

    # ------------------------------------------------------------------ requests

    def _prompt(self, prompt: ChatPrompt, end: int | None = None) -> list[int] | str | RequestFailed:
        """What the request's ``prompt`` holds (its ids up to ``end``): the ids, or their text when
        the server takes only text (then a document whose text holds a special token cannot be
        sent: the server would read it as that token)."""
        ids = prompt.ids[:end]
        if self.spec.prompt_format == "ids":
            return list(ids)
        document = self.tokenizer.decode(prompt.ids[prompt.doc_start : prompt.doc_end], skip_special_tokens=False)
        held = next((t for t in self.special_texts if t in document), None)
        if held is not None:
            return RequestFailed(f"the document holds the special token {held!r} as text; prompt_format: text would send "
                                 "it as that token (use a server that takes token ids, prompt_format: ids)", 0)
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _complete(self, bodies: Sequence[dict[str, Any] | RequestFailed]) -> list[dict[str, Any] | RequestFailed]:
        """Answers to ``/completions`` bodies, from the cache where there, else from the servers
        (and then kept); a :class:`RequestFailed` in place of a body stays one."""
        keys = {i: request_key(self.spec.id, self.spec.revision, "openai", COMPLETIONS, b)
                for i, b in enumerate(bodies) if not isinstance(b, RequestFailed)}
        cached = self.cache.get_many(list(keys.values()))
        todo = [i for i, key in keys.items() if key not in cached]
        answers = self.client.post_all(COMPLETIONS, [bodies[i] for i in todo],  # type: ignore[misc]
                                       on_answer=lambda k, answer: self.cache.put_many([(keys[todo[k]], answer)]))
        self.sent += len(todo)
        self.reused += len(keys) - len(todo)
        out: list[Any] = [b if isinstance(b, RequestFailed) else cached.get(keys[i]) for i, b in enumerate(bodies)]
        for i, answer in zip(todo, answers):
            out[i] = answer
        return out

    def _cut_at_special(self, text: str) -> str:
        """The answer up to the first special token a server left in its text (an end of turn it
        did not stop at), as the in-process generator stops at it."""
        cuts = [text.find(t) for t in self.special_texts if t in text]
        return text[: min(cuts)] if cuts else text


def prompt_logprobs_missing(spec: Any) -> str | None:
    """Why ``quality_nll`` will stay empty on this served model (its first server returns no
    prompt logprobs for an ``echo`` request), or None when it returns them. Asked once, for the
    run's plan: a short text prompt, one token."""
    import os

    import httpx

    url = spec.base_url[0].rstrip("/")
    key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": spec.served_name or spec.id, "prompt": "The cat sat on the mat.", "max_tokens": 1,
            "temperature": 0.0, "echo": True, "logprobs": 1}
    try:
        answer = httpx.post(url + COMPLETIONS, json=body, headers=headers, timeout=spec.requests.timeout_s).json()
        values = _choice(answer).get("logprobs", {}).get("token_logprobs") or []
    except (httpx.HTTPError, ValueError, InferenceFailed, AttributeError) as exc:
        return f"{url} did not answer an echo request with logprobs ({type(exc).__name__})"
    if sum(v is not None for v in values) < 2:
        return f"{url} returns no prompt logprobs (echo with logprobs)"
    return None


def _choice(answer: dict[str, Any]) -> dict[str, Any]:
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise InferenceFailed(f"the server's answer has no choices: {str(answer)[:300]}")
    return choices[0]


def _first_top_logprobs(answer: dict[str, Any]) -> dict[str, float]:
    """token text -> logprob of the answer's first token's most likely tokens (the legacy
    completions form, a dict per position, or the chat form, a list of {token, logprob})."""
    logprobs = _choice(answer).get("logprobs")
    top = None
    if isinstance(logprobs, dict):
        if isinstance(logprobs.get("top_logprobs"), list) and logprobs["top_logprobs"]:
            top = logprobs["top_logprobs"][0]
        elif isinstance(logprobs.get("content"), list) and logprobs["content"]:
            top = logprobs["content"][0].get("top_logprobs")
    if isinstance(top, list):
        top = {entry["token"]: entry["logprob"] for entry in top if isinstance(entry, dict)}
    if not isinstance(top, dict) or not top:
        raise InferenceFailed(
            "the server answered without logprobs, so it cannot judge (the judge reads the score digits' "
            "probabilities; transformers serve ignores logprobs: serve the judge with vLLM, SGLang or llama.cpp)")
    return {str(token): float(value) for token, value in top.items() if value is not None}


def _document_nll(echo: dict[str, Any] | RequestFailed | None, prompt: ChatPrompt, doc_pieces: list[str]) -> float:
    """Mean negative log-likelihood of the document's tokens from the echoed logprobs of the prompt
    up to the document's end (so the document is the prompt's tail). Servers differ in what they
    echo (llama.cpp leaves out some special tokens; the answer's token is last), so the document
    is found at the tail, just before or at the end, where the echoed token texts are its tokens'
    (``doc_pieces``); NaN when the server gave none or they do not line up."""
    n = len(doc_pieces)
    if not isinstance(echo, dict) or n == 0:
        return math.nan
    logprobs = _choice(echo).get("logprobs")
    if not isinstance(logprobs, dict):
        return math.nan
    values, tokens = logprobs.get("token_logprobs"), logprobs.get("tokens")
    if not isinstance(values, list) or not isinstance(tokens, list) or len(values) != len(tokens):
        return math.nan
    generated = (echo.get("usage") or {}).get("completion_tokens")
    ours = "".join(doc_pieces).replace("\ufffd", "")
    for tail in sorted({generated if isinstance(generated, int) else 1, 0}, reverse=True):
        end = len(values) - tail
        if end - n < 1:  # the first echoed token has no logprob
            continue
        if "".join(str(t) for t in tokens[end - n : end]).replace("\ufffd", "") == ours:
            span = values[end - n : end]
            if any(v is None for v in span):
                return math.nan
            return -sum(span) / n
    return math.nan
