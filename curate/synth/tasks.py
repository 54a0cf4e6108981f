"""Synthetic-data tasks: prompt templates, which documents they read, what language they answer in.

A task is a template with ``{document}`` (the source document, inserted as token ids so it
cannot act as chat markup) and, for translations, ``{target_language}`` (a language name,
filled from ``target_languages``). Built-in tasks are named by ``name``; a task with its own
``prompt`` is a new one, added in the YAML without code.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, model_validator

from curate.config import StrictModel

BUILTIN_PROMPTS: dict[str, str] = {
    "rephrase": (
        "Rewrite the following text as clear, well-organised encyclopedic prose in the same language. "
        "Keep every fact and add none. Output only the rewritten text.\n\n{document}"
    ),
    "qa": (
        "Read the text below and write three question-and-answer pairs that can be answered from it alone, "
        "in the text's language. Format each as 'Q: ...' then 'A: ...'.\n\n{document}"
    ),
    "math_solution": (
        "Solve the following problem step by step, explaining each step, and give the final answer as "
        "\\boxed{{...}}.\n\n{document}"
    ),
    "code_explain": (
        "Explain what the following code does, step by step, then give a docstring for each function or "
        "class in it.\n\n{document}"
    ),
    "translate": (
        "Translate the following text into {target_language}. Keep its meaning, tone and formatting. "
        "Output only the translation.\n\n{document}"
    ),
}

#: The answer's language for the built-ins: the source's, a translation target, or any (code).
BUILTIN_OUTPUT_LANGUAGE: dict[str, str] = {
    "rephrase": "source", "qa": "source", "math_solution": "any", "code_explain": "any", "translate": "target",
}

#: English names of Qwen2's languages, for translation prompts (other codes are used as given).
LANGUAGE_NAMES: dict[str, str] = {
    "eng_Latn": "English", "cmn_Hani": "Chinese (Simplified)", "cmn_Hans": "Chinese (Simplified)",
    "cmn_Hant": "Chinese (Traditional)", "zho_Hans": "Chinese (Simplified)",
    "spa_Latn": "Spanish", "fra_Latn": "French", "deu_Latn": "German", "ita_Latn": "Italian",
    "por_Latn": "Portuguese", "rus_Cyrl": "Russian", "jpn_Jpan": "Japanese", "kor_Hang": "Korean",
    "vie_Latn": "Vietnamese", "tha_Thai": "Thai", "ind_Latn": "Indonesian", "zsm_Latn": "Malay",
    "tgl_Latn": "Tagalog", "arb_Arab": "Arabic", "heb_Hebr": "Hebrew", "tur_Latn": "Turkish",
    "pol_Latn": "Polish", "nld_Latn": "Dutch", "ces_Latn": "Czech", "hun_Latn": "Hungarian",
    "ron_Latn": "Romanian", "swe_Latn": "Swedish", "ukr_Cyrl": "Ukrainian", "ell_Grek": "Greek",
    "pes_Arab": "Persian", "hin_Deva": "Hindi", "ben_Beng": "Bengali", "urd_Arab": "Urdu",
    "khm_Khmr": "Khmer", "lao_Laoo": "Lao", "mya_Mymr": "Burmese",
}


class TaskConfig(StrictModel):
    name: str = Field(description="A built-in task (rephrase, qa, math_solution, code_explain, translate) or a new name.")
    prompt: str | None = Field(default=None, description="Template with {document}; required for a new task.")
    system_prompt: str | None = None
    domains: list[str] = Field(min_length=1, description="Source documents come from these domains.")
    languages: list[str] | None = Field(default=None, description="Only sources in these lang codes.")
    target_languages: list[str] = Field(default_factory=list, description="translate: one output per target.")
    output_language: Literal["source", "target", "any"] | None = Field(
        default=None, description="Language the output must be in (default: the built-in's, else source).")
    max_documents: int = Field(default=100, gt=0, description="Source documents this task reads at most.")
    per_language: int | None = Field(default=None, gt=0, description="At most this many sources per language.")
    min_quality: float | None = Field(default=None, description="Only sources with quality_score at least this.")

    @model_validator(mode="after")
    def _template(self) -> TaskConfig:
        if self.prompt is None and self.name not in BUILTIN_PROMPTS:
            raise ValueError(f"task {self.name!r} is not built in ({', '.join(BUILTIN_PROMPTS)}); give it a prompt")
        if self.template.count("{document}") != 1:
            raise ValueError(f"task {self.name!r}: the prompt must contain {{document}} exactly once")
        if self.language_rule == "target" and not self.target_languages:
            raise ValueError(f"task {self.name!r}: set target_languages")
        if "{target_language}" in self.template and not self.target_languages:
            raise ValueError(f"task {self.name!r}: the prompt uses {{target_language}}; set target_languages")
        return self

    @property
    def template(self) -> str:
        return self.prompt if self.prompt is not None else BUILTIN_PROMPTS[self.name]

    @property
    def language_rule(self) -> str:
        return self.output_language or BUILTIN_OUTPUT_LANGUAGE.get(self.name, "source")

    def render(self, target: str | None) -> str:
        """The user template for one target language, ``{document}`` left in place."""
        text = self.template.replace("{target_language}", LANGUAGE_NAMES.get(target or "", target or ""))
        return text.replace("{{", "{").replace("}}", "}")

    def template_hash(self) -> str:
        """Identifies the exact prompt (system and user text) a generation came from."""
        blob = f"{self.system_prompt or ''}\x00{self.template}".encode()
        return hashlib.sha256(blob).hexdigest()[:16]
