"""The memory a task may use: cgroup limits read from real files laid out as the kernel does."""

from __future__ import annotations

from pathlib import Path

from curate.runtime.memory import MIN_WORKING_BYTES, WORKER_BASELINE_BYTES, cgroup_memory_limit, working_bytes


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v1_takes_the_tightest_limit_on_the_way_to_the_root(tmp_path: Path) -> None:
    proc = tmp_path / "proc_cgroup"
    _write(proc, "9:name=systemd:/\n4:memory:/ci/run-1\n3:cpu,cpuacct:/ci\n")
    root = tmp_path / "cgroup"
    _write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")  # v1's "no limit"
    _write(root / "memory" / "ci" / "memory.limit_in_bytes", str(8 * 2**30))
    _write(root / "memory" / "ci" / "run-1" / "memory.limit_in_bytes", str(3 * 2**30))
    assert cgroup_memory_limit(proc, root) == 3 * 2**30
    _write(root / "memory" / "ci" / "run-1" / "memory.limit_in_bytes", str(16 * 2**30))
    assert cgroup_memory_limit(proc, root) == 8 * 2**30  # a parent's limit binds a looser child


def test_v2_reads_memory_max_and_max_means_none(tmp_path: Path) -> None:
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/user.slice/job\n")
    root = tmp_path / "cgroup"
    _write(root / "user.slice" / "job" / "memory.max", "max\n")
    assert cgroup_memory_limit(proc, root) is None
    _write(root / "user.slice" / "memory.max", str(6 * 2**30))
    assert cgroup_memory_limit(proc, root) == 6 * 2**30


def test_no_cgroup_file_means_no_limit(tmp_path: Path) -> None:
    assert cgroup_memory_limit(tmp_path / "missing", tmp_path) is None


def test_working_memory_is_the_share_less_an_idle_worker_with_a_floor() -> None:
    assert working_bytes(2**30) == 2**30 - WORKER_BASELINE_BYTES
    assert working_bytes(100 * 2**20) == MIN_WORKING_BYTES
