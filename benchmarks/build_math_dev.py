"""Build the math dev sets of benchmarks/data from git mirrors of their upstream repositories.

GSM8K *train* (openai/grade-school-math, MIT) and MATH *train* (Hendrycks et al., MIT; the copy in
aiwaves-cn/agents, which ships the original per-problem JSON files): random samples (seed 0) used
to measure false rejections of the math filters on good real data. Never the test splits: those
are what decontamination protects.

    MIRROR=<folder of owner+name/repo git mirrors> python benchmarks/build_math_dev.py
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

OUT = Path(__file__).parent / "data"
GSM8K = ("openai+grade-school-math", "grade_school_math/data/train.jsonl")
MATH = ("aiwaves-cn+agents", "src/agents/datasets/data/math/train/")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def build_gsm8k(mirror: Path, n: int = 500) -> list[dict]:
    repo = mirror / GSM8K[0] / "repo"
    commit = _git(repo, "rev-parse", "HEAD").strip()
    rows = [json.loads(line) for line in _git(repo, "show", f"HEAD:{GSM8K[1]}").splitlines() if line.strip()]
    picked = sorted(random.Random(0).sample(range(len(rows)), n))
    return [
        {
            "id": f"gsm8k-train-{i}", "text": rows[i]["question"] + "\n" + rows[i]["answer"], "lang": "eng_Latn",
            "domain": "math", "source": f"openai/grade-school-math@{commit}:{GSM8K[1]}#L{i + 1}", "license": "MIT",
        }
        for i in picked
    ]  # fmt: skip


def build_math(mirror: Path, n: int = 300) -> list[dict]:
    repo = mirror / MATH[0] / "repo"
    commit = _git(repo, "rev-parse", "HEAD").strip()
    paths = sorted(p for p in _git(repo, "ls-tree", "-r", "--name-only", "HEAD", MATH[1]).splitlines() if p.endswith(".json"))
    out = []
    for path in sorted(random.Random(0).sample(paths, n)):
        row = json.loads(_git(repo, "show", f"HEAD:{path}"))
        subject, number = path.removeprefix(MATH[1]).removesuffix(".json").split("/")
        out.append({
            "id": f"math-train-{subject}-{number}", "text": row["problem"] + "\n" + row["solution"], "lang": "eng_Latn",
            "domain": "math", "source": f"aiwaves-cn/agents@{commit}:{path}", "license": "MIT",
            "level": row.get("level"), "type": row.get("type"),
        })  # fmt: skip
    return out


def main() -> None:
    mirror = Path(os.environ.get("MIRROR", "/work/.mirror"))
    for name, rows in (("gsm8k_train_dev.jsonl", build_gsm8k(mirror)), ("math_competition_dev.jsonl", build_math(mirror))):
        with open(OUT / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
