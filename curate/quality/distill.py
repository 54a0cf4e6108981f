"""Distil the judge into a fastText scorer that is cheap enough for the whole corpus.

FineWeb-Edu's recipe: the LLM judges a sample, a small classifier learns its judgement and scores
everything. Here the classifier is fastText (supervised, word n-grams), trained on the judge's
rounded score digits as labels; its score for a document is the expected digit under its
predicted label distribution, on the same 0-5 scale as ``quality_score``. Held-out agreement
with the judge (F1 of "score >= threshold", Spearman rank correlation) says how far to trust it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABEL_PREFIX = "__label__"

#: What the fresh interpreter runs: train with the options (JSON) and save the model.
_TRAIN = "import json, sys, fasttext; fasttext.train_supervised(**json.loads(sys.argv[1])).save_model(sys.argv[2])"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Agreement:
    f1: float  # of "score >= threshold", judge as truth
    spearman: float
    n: int


def agreement(judge_scores: Sequence[float], predicted: Sequence[float], threshold: float) -> Agreement:
    from scipy.stats import spearmanr

    truth = np.asarray(judge_scores, dtype=float) >= threshold
    guess = np.asarray(predicted, dtype=float) >= threshold
    tp = int((truth & guess).sum())
    f1 = 2 * tp / (int(truth.sum()) + int(guess.sum())) if truth.any() or guess.any() else 1.0
    rho = float(spearmanr(judge_scores, predicted).statistic) if len(judge_scores) > 2 else float("nan")
    return Agreement(f1, rho, len(judge_scores))


class DistilledScorer:
    """A fastText classifier over score digits; ``score`` gives the expected digit."""

    def __init__(self, model, path: str | None = None) -> None:
        self.model = model
        self.path = path
        self.digits = {label: int(label[len(LABEL_PREFIX):]) for label in model.get_labels()}

    @classmethod
    def load(cls, path: str | Path) -> DistilledScorer:
        import fasttext

        return cls(fasttext.load_model(str(path)), str(path))

    @classmethod
    def train(cls, texts: Sequence[str], scores: Sequence[float], *, epoch: int = 20, lr: float = 0.5,
              word_ngrams: int = 2, dim: int = 32, min_count: int = 1, seed: int = 0, threads: int = 1) -> DistilledScorer:
        """Train on judged documents; ``scores`` are judge scores (0-5), rounded to labels.

        One thread by default, so the same inputs give the same model. fasttext 0.9.3 then
        initialises only a tenth of the input matrix and leaves the rest as malloc returned it,
        which is zeroed pages only in a fresh process: in a long-lived one (a Ray worker, a test
        run) reused memory has made training hit "Encountered NaN". So the model is trained in
        a new interpreter and loaded back from the file it saves (a saved model is all data).
        """
        if len(texts) != len(scores) or not len(texts):
            raise ValueError("need one score per text, and at least one text")
        if word_ngrams < 2:  # fastText drops the hash buckets then: a small matrix, see above
            raise ValueError("word_ngrams must be at least 2")
        with tempfile.TemporaryDirectory(prefix="curate-distill-") as folder:
            train_file, model_file = Path(folder) / "train.txt", Path(folder) / "scorer.bin"
            with open(train_file, "w", encoding="utf-8") as f:
                for text, score in zip(texts, scores):
                    f.write(f"{LABEL_PREFIX}{int(np.clip(np.rint(score), 0, 5))} {_one_line(text)}\n")
            options = {"input": str(train_file), "epoch": epoch, "lr": lr, "wordNgrams": word_ngrams, "dim": dim,
                       "minCount": min_count, "seed": seed, "thread": threads, "bucket": 2_000_000, "verbose": 0}
            done = subprocess.run([sys.executable, "-c", _TRAIN, json.dumps(options), str(model_file)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"training the distilled scorer failed: {done.stderr.strip()[-2000:]}")
            import fasttext

            return cls(fasttext.load_model(str(model_file)))  # no path: the folder goes now

    def save(self, path: str | Path) -> str:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.model.save_model(str(path))
        self.path = str(path)
        return self.path

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        # The list form of predict works with numpy 2 (the single-string form does not).
        labels, probs = self.model.predict([_one_line(t) for t in texts], k=-1)
        return np.array([sum(self.digits[lab] * p for lab, p in zip(ls, ps)) / max(sum(ps), 1e-12)
                         for ls, ps in zip(labels, probs)])
