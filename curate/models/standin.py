"""A small, offline Qwen2-architecture checkpoint: what tests and the quickstart load instead of Qwen.

There is no internet on our build machines, so real Qwen weights cannot be fetched there. The
stand-in has Qwen2's architecture (``Qwen2ForCausalLM``: RMSNorm, rotary attention with grouped
KV heads, SwiGLU, tied embeddings), the real Qwen2.5 tokenizer and chat template, and random
weights from a fixed seed (std 0.2, ten times training's init, so greedy decoding depends on the
prompt instead of repeating one token). It exercises every code path of the model stages (loading, chat
templates, batching, logits, generation) with exact, reproducible numbers; its judgements and
generations mean nothing. Point ``model.id`` at ``Qwen/Qwen2.5-0.5B-Instruct`` (or a local copy)
for real ones.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The model id a config uses to ask for the stand-in.
STANDIN_ID = "curate/qwen2-standin"
#: Bump when the recipe changes, so cached copies are rebuilt.
STANDIN_VERSION = 2


def standin_dir() -> Path:
    from curate.tokenizer import cache_dir

    return cache_dir() / "models" / f"qwen2-standin-v{STANDIN_VERSION}"


def make_standin(target: str | Path, *, seed: int = 0, hidden_size: int = 64, layers: int = 2,
                 heads: int = 4, kv_heads: int = 2, intermediate_size: int = 128, init_std: float = 0.2) -> Path:
    """Write a random-weight Qwen2 checkpoint with the Qwen2.5 tokenizer into ``target``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from curate.tokenizer import load_tokenizer

    tokenizer = load_tokenizer("qwen2.5")
    hf_tokenizer = tokenizer.hf
    config = Qwen2Config(
        vocab_size=151936,  # Qwen2.5's embedding size (151,665 tokens padded)
        hidden_size=hidden_size, intermediate_size=intermediate_size, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=32768,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=tokenizer.special_tokens["<|im_end|>"],
        pad_token_id=tokenizer.eos_id, rms_norm_eps=1e-6, initializer_range=init_std,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.eval()
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)
    hf_tokenizer.save_pretrained(str(target))
    (target / "README.md").write_text(
        "Random-weight Qwen2-architecture stand-in built by curate (curate/models/standin.py) for offline "
        "tests. Its outputs are not meaningful.\n", encoding="utf-8")
    return target


def ensure_standin() -> Path:
    """The cached stand-in, built on first use (a few seconds; safe with concurrent builders)."""
    target = standin_dir()
    if (target / "config.json").is_file():
        return target
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    make_standin(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target
