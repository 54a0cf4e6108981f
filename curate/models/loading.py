"""Loading causal language models (Qwen and friends) through transformers, with clear failures.

A model is named by a Hugging Face hub id (``Qwen/Qwen2.5-0.5B-Instruct``), a local directory,
or :data:`~curate.models.standin.STANDIN_ID`, the small offline Qwen2-architecture checkpoint
this project builds for tests and the quickstart. Remote code never runs unless the config says
``trust_remote_code: true``. Offline and not cached, loading fails before any work with the
model's name and the command that fetches it ahead of time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from curate.config import StrictModel
from curate.models.client import RequestOptions
from curate.models.managed import ServerSpec

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
Device = Literal["auto", "cpu", "cuda"]


class ModelSpec(StrictModel):
    """Which model to load and how (the ``model:`` block of a model stage)."""

    id: str = Field(description="Hub id, local directory, or curate/qwen2-standin (built offline).")
    backend: str = Field(default="transformers",
                         description="How the model runs: a name in curate.models.backend.BACKENDS.")
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit) to pin.")
    dtype: Dtype = Field(default="auto", description="auto: bfloat16 on GPU, float32 on CPU.")
    device: Device = "auto"
    trust_remote_code: bool = False
    gguf_file: str | None = Field(
        default=None, description="A GGUF file in the model's directory (or hub repo): weights, tokenizer and config "
        "come from it (dequantised in-process; needs the gguf package).")
    # backend: openai (an OpenAI-compatible server: vLLM, SGLang, llama.cpp, transformers serve).
    # The tokenizer of ``id`` is still loaded here: prompts are built and cut exactly as in-process.
    base_url: list[str] = Field(
        default_factory=list, description="backend openai: the server(s), e.g. http://host:8000/v1; several are balanced.")
    served_name: str | None = Field(default=None, description="backend openai: the model's name on the server (default: id).")
    api_key_env: str | None = Field(default=None, description="backend openai: the environment variable holding the API key.")
    prompt_format: Literal["ids", "text"] = Field(
        default="ids", description="backend openai: send prompts as token ids (exact; vLLM, SGLang, llama.cpp) or as "
        "text (servers that take only text, e.g. transformers serve).")
    top_logprobs: int = Field(default=20, gt=0, le=20, description="backend openai: logprobs asked for the judge's answer token.")
    requests: RequestOptions = Field(default_factory=lambda: RequestOptions())
    cache_dir: str | None = Field(
        default=None, description="backend openai: where answered requests are kept for reruns (default: the curate cache).")
    server: ServerSpec | None = Field(
        default=None, description="backend openai: servers the run starts, watches and stops (curate.models.managed); "
        "their URLs become base_url.")

    @field_validator("base_url", mode="before")
    @classmethod
    def _one_or_more_urls(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _served_options_need_a_server(self) -> ModelSpec:
        if self.backend == "openai" and not self.base_url and self.server is None:
            raise ValueError("backend openai needs base_url (the server(s) to send requests to) or server (one the run starts)")
        if self.backend != "openai" and (self.base_url or self.server is not None):
            key = "base_url" if self.base_url else "server"
            raise ValueError(f"{key} is for backend: openai (this model's backend is {self.backend})")
        if self.base_url and self.server is not None:
            raise ValueError("give base_url (servers that run already) or server (servers the run starts), not both")
        return self

    @property
    def served(self) -> bool:
        """Whether the model runs on a server (only its tokenizer is loaded here)."""
        return bool(self.base_url) or self.server is not None


    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from curate.models.backend import BACKENDS  # late: the backends import this module

        if value not in BACKENDS:
            raise ValueError(f"unknown model backend {value!r} (known: {', '.join(sorted(BACKENDS))})")
        return value


class ModelUnavailable(RuntimeError):
    """The model is neither a local directory nor in the Hugging Face cache, and we cannot fetch it."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    spec: ModelSpec
    path: str  # what transformers loaded from (a directory)
    device: str

    @property
    def name(self) -> str:
        return self.spec.id if self.spec.revision is None else f"{self.spec.id}@{self.spec.revision}"


def fetch_hint(spec: ModelSpec) -> str:
    revision = f" --revision {spec.revision}" if spec.revision else ""
    return (f"fetch it ahead of time on a machine with internet: `hf download {spec.id}{revision}` "
            f"(or `python -m curate.models fetch <pipeline.yaml>` for every model a pipeline names), "
            "then copy the Hugging Face cache, or point `id:` at a local directory")


#: What a served model needs here: its tokenizer and chat template, not its weights.
TOKENIZER_FILES = ["*.json", "*.model", "*.txt", "*.tiktoken", "*.jinja"]


def resolve(spec: ModelSpec) -> str:
    """A local directory holding the model (only its tokenizer for a served one): the directory
    named, the built stand-in, or the Hugging Face cache snapshot (downloaded when online).
    Raises :class:`ModelUnavailable`."""
    from curate.models.standin import STANDIN_ID, ensure_standin

    if spec.id == STANDIN_ID:
        return str(ensure_standin())
    local = Path(spec.id).expanduser()
    if local.is_dir():
        if spec.gguf_file is not None:
            if not (local / spec.gguf_file).is_file():
                raise ModelUnavailable(f"model directory {local} has no {spec.gguf_file}")
        elif not (local / "config.json").is_file():
            raise ModelUnavailable(f"model directory {local} has no config.json")
        return str(local)
    if spec.id.startswith((".", "/", "~")):
        raise ModelUnavailable(f"model directory {spec.id} does not exist")
    from huggingface_hub import snapshot_download

    patterns = [spec.gguf_file] if spec.gguf_file else TOKENIZER_FILES if spec.served else [*TOKENIZER_FILES, "*.safetensors"]
    try:  # the cache first: no network round trip when it is there
        return snapshot_download(spec.id, revision=spec.revision, allow_patterns=patterns, local_files_only=True)
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        raise ModelUnavailable(f"model {spec.id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: "
                               + fetch_hint(spec))
    try:
        return snapshot_download(spec.id, revision=spec.revision, allow_patterns=patterns)
    except Exception as exc:
        raise ModelUnavailable(f"cannot load model {spec.id!r}: {type(exc).__name__}: {exc}. " + fetch_hint(spec)) from exc


def check_available(spec: ModelSpec, where: str) -> None:
    """For a stage's ``preflight``: a ConfigError naming the config key when the model is missing."""
    from curate.config import ConfigError

    try:
        resolve(spec)
    except ModelUnavailable as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if spec.served and spec.server is None:  # a managed server is checked as it starts, before any document
        check_servers(spec, where.removesuffix(".id") + ".base_url")


def check_servers(spec: ModelSpec, where: str) -> None:
    """Every server of a served model answers ``GET /models`` (OpenAI's model list), or a ConfigError
    naming the key: a run does not start its work against a server that is not there."""
    import httpx

    from curate.config import ConfigError

    headers = {}
    if spec.api_key_env and os.environ.get(spec.api_key_env):
        headers["Authorization"] = f"Bearer {os.environ[spec.api_key_env]}"
    for url in spec.base_url:
        try:
            answer = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise ConfigError(f"{where}: cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if answer.status_code != 200:
            raise ConfigError(f"{where}: {url}/models answered HTTP {answer.status_code}: {answer.text[:200]}")


def pick_device(spec: ModelSpec) -> str:
    import torch

    if spec.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(f"model {spec.id!r} asks for device cuda, but torch sees no GPU")
    return spec.device


def pick_dtype(spec: ModelSpec, device: str):
    import torch

    if spec.dtype == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, spec.dtype)


def gguf(spec: ModelSpec) -> dict[str, str]:
    """``from_pretrained``'s argument for a GGUF model (none otherwise)."""
    return {"gguf_file": spec.gguf_file} if spec.gguf_file else {}


def load_tokenizer(spec: ModelSpec, path: str | None = None):
    """The model's tokenizer (with its chat template), from :func:`resolve`'s directory."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path or resolve(spec), trust_remote_code=spec.trust_remote_code, **gguf(spec))


def load_causal_lm(spec: ModelSpec) -> LoadedModel:
    """The model (eval mode, on its device) and its tokenizer, from :func:`resolve`'s directory."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelUnavailable("model stages need torch: pip install -e '.[models]'") from exc
    from transformers import AutoModelForCausalLM

    path = resolve(spec)
    device = pick_device(spec)
    tokenizer = load_tokenizer(spec, path)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=pick_dtype(spec, device), trust_remote_code=spec.trust_remote_code, **gguf(spec))
    model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, spec, path, device)
