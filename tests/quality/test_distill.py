"""Distilling judge scores into a fastText scorer (real fastText training and prediction)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from curate.quality.distill import DistilledScorer, agreement
from curate.sampling import sample_per_group
from tests.conftest import SAMPLES


def test_sample_per_group_caps_each_group_and_ignores_order() -> None:
    ids = [f"d{i}" for i in range(300)]
    groups = ["web/eng" if i % 3 else "code/py" for i in range(300)]
    mask = sample_per_group(ids, groups, per_group=20, seed=1)
    chosen = {ids[i] for i in np.flatnonzero(mask)}
    assert sum(groups[i] == "web/eng" for i in np.flatnonzero(mask)) == 20
    assert sum(groups[i] == "code/py" for i in np.flatnonzero(mask)) == 20
    order = list(range(300))
    random.Random(0).shuffle(order)
    shuffled = sample_per_group([ids[i] for i in order], [groups[i] for i in order], per_group=20, seed=1)
    assert {ids[order[j]] for j in np.flatnonzero(shuffled)} == chosen
    assert {ids[i] for i in np.flatnonzero(sample_per_group(ids, groups, 20, seed=2))} != chosen


def judged_corpus() -> tuple[list[str], list[float]]:
    """Stand-in judgements with a real signal: prose and math score high, boilerplate low."""
    texts, scores = [], []
    rng = random.Random(0)
    for path in sorted((SAMPLES / "web").glob("*.jsonl")):
        if path.name == "near_duplicates.jsonl":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
            scores.append(rng.choice([3.6, 4.2, 4.8]))
    for line in (SAMPLES / "math" / "problems.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(json.loads(line)["body"])
        scores.append(4.5)
    boilerplate = ["Home | About | Contact | Login", "Click here to win a free prize now!!!", "Buy cheap pills online",
                   "Cookie settings Accept all Reject all", "Page 1 2 3 4 5 Next >>", "Sign up for our newsletter",
                   "Copyright 2024 All rights reserved Privacy Terms", "Share on Facebook Twitter Email"]
    for _ in range(60):
        a, b = rng.sample(boilerplate, 2)
        texts.append(f"{a} {b} {rng.randint(1, 999)}")
        scores.append(rng.choice([0.2, 0.8, 1.1]))
    return texts, scores


def test_scorer_learns_the_judgement_and_reports_agreement(tmp_path) -> None:
    texts, scores = judged_corpus()
    order = np.random.default_rng(0).permutation(len(texts))
    train, held = order[: int(0.7 * len(order))], order[int(0.7 * len(order)):]
    scorer = DistilledScorer.train([texts[i] for i in train], [scores[i] for i in train])
    predicted = scorer.score([texts[i] for i in held])
    assert predicted.shape == (len(held),) and ((predicted >= 0) & (predicted <= 5)).all()
    result = agreement([scores[i] for i in held], predicted, threshold=2.5)
    assert result.f1 >= 0.9 and result.spearman >= 0.6 and result.n == len(held)
    # saved and reloaded by path: the same scores (a later run reuses it and skips the judge)
    path = scorer.save(tmp_path / "scorer" / "quality.bin")
    again = DistilledScorer.load(path)
    np.testing.assert_allclose(again.score([texts[i] for i in held]), predicted)
    # one thread, fixed seed: retraining gives the same model
    np.testing.assert_allclose(DistilledScorer.train([texts[i] for i in train], [scores[i] for i in train])
                               .score([texts[i] for i in held]), predicted)


def test_agreement_arithmetic() -> None:
    result = agreement([0, 1, 4, 5], [0.5, 3, 4.5, 2], threshold=2.5)  # truth: 2 high; guess: 2 high, 1 right
    assert result.f1 == pytest.approx(0.5)
    assert result.spearman == pytest.approx(0.4)


def test_train_refuses_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="one score per text"):
        DistilledScorer.train(["a", "b"], [1.0])
