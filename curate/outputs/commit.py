"""A run's outputs, complete or absent: the staging folder workers write into, and the commit.

Workers write into ``_staging/<run id>/`` inside the output dir. The driver writes what needs all
of it (manifests, ``stats/``), then :func:`commit` moves the finished folders into place and
writes ``_SUCCESS``. A run that dies leaves a staging folder and no ``_SUCCESS``. Only what
curate's own records vouch for is replaced or removed (:mod:`curate.ownership`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from curate import ownership
from curate.outputs.registry import output_folders

SUCCESS_MARKER = "_SUCCESS"
STAGING = "_staging"


def remove_stale_staging(output_dir: Path) -> None:
    """Delete staging folders of runs that died before committing: only folders carrying this
    pipeline's marker, and only under the output_dir lock (so no live run's staging is touched)."""
    ownership.require_lock(output_dir)
    for child in ownership.owned_children(output_dir / STAGING, output_dir):
        shutil.rmtree(child, ignore_errors=True)


def new_staging_dir(output_dir: Path, folders: tuple[str, ...] = ("documents", "rejected")) -> Path:
    """A fresh ``_staging/<run id>/``, marked as this pipeline's before workers write into it, with
    ``stats/``, ``artifacts/`` and ``folders`` (the sinks' that exist even when empty) made."""
    ownership.claim(output_dir, [STAGING])
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    staging = output_dir / STAGING / run_id
    staging.mkdir(parents=True)
    ownership.mark(staging, output_dir)
    for folder in ("stats", "artifacts", *folders):
        (staging / folder).mkdir()
    return staging


def write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def commit(staging: Path, output_dir: Path) -> None:
    """Swap the staged folders into place, then mark the output complete.

    Only folders curate's manifest vouches for are replaced (checked first, under the lock); the
    manifest lists old and new files while the swap runs, so a commit killed half-way leaves
    nothing unlisted and the next run can still replace them. An output folder this run did not
    write (``tokens/`` without a tokenize stage) is removed when an earlier run of curate's made
    it, as the manifest proves, so no stale outputs outlive the run that wrote them."""
    ownership.require_lock(output_dir)
    ownership.check_output_dir(output_dir)
    marker = output_dir / SUCCESS_MARKER
    staged = {folder: ownership.files_under(staging / folder) for folder in output_folders()
              if (staging / folder).is_dir()}
    stale = [folder for folder in output_folders()
             if folder not in staged and ownership.created(output_dir, folder)]
    ownership.claim(output_dir, [SUCCESS_MARKER])
    ownership.record_files(output_dir, staged, keep_old=True)
    marker.unlink(missing_ok=True)
    trash = staging / "_replaced"
    trash.mkdir()
    for folder in output_folders():
        final = output_dir / folder
        if (folder in staged or folder in stale) and (final.exists() or final.is_symlink()):
            final.rename(trash / folder)
        if folder in staged:
            (staging / folder).rename(final)
    ownership.record_files(output_dir, staged, keep_old=False)
    ownership.forget(output_dir, stale)
    discard(staging)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n", encoding="utf-8")


def discard(staging: Path) -> None:
    """Remove this run's own staging folder, and ``_staging/`` once no other run's is left."""
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        staging.parent.rmdir()
