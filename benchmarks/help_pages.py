"""Real translated prose in 40+ languages: GNOME's user help, from Debian's ``gnome-user-docs``.

Each language's Mallard pages (``usr/share/help/<ll>/gnome-help/*.page``) are a human translation
of the English (``C``) help: paragraphs of instructions, full sentences, the kind of prose a web
page has and ``.mo`` messages lack. ``lid_accuracy.py`` measures language ID on them.

The package is fetched once with ``apt-get download`` (Debian's registry; no other network) into
``~/.cache/curate/debs`` and read from the archive in memory: nothing is extracted to disk.
A paragraph the translators left in English (it appears among the English paragraphs) is dropped,
so every paragraph is labelled by its real language.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

PACKAGE = "gnome-user-docs"
CACHE = Path.home() / ".cache" / "curate" / "debs"
_PAGE = re.compile(r"\./usr/share/help/([^/]+)/gnome-help/[^/]+\.page$")
_MALLARD = "{http://projectmallard.org/1.0/}"


def package_file(cache: Path = CACHE) -> Path | None:
    """The cached ``.deb``, downloaded first if apt-get is there; None when it cannot be had."""
    found = sorted(cache.glob(f"{PACKAGE}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=cache, check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    found = sorted(cache.glob(f"{PACKAGE}_*.deb"))
    return found[-1] if found else None


def _data_tar(deb: Path) -> tarfile.TarFile:
    """The package's file tree, by dpkg-deb (it knows every compression a .deb may use)."""
    tree = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    return tarfile.open(fileobj=io.BytesIO(tree))


def page_paragraphs(xml: bytes) -> list[str]:
    """The text of a page's ``<p>`` elements, whitespace collapsed (markup inside kept as text)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    return [" ".join("".join(p.itertext()).split()) for p in root.iter(f"{_MALLARD}p")]


def help_paragraphs(min_chars: int = 20, cache: Path = CACHE) -> dict[str, list[str]]:
    """Paragraphs per help language directory (``de``, ``pt_BR``, ``sr@latin``...), without the
    untranslated ones; {} when the package cannot be had."""
    deb = package_file(cache)
    if deb is None:
        return {}
    by_lang: dict[str, list[str]] = defaultdict(list)
    with _data_tar(deb) as tar:
        for member in tar:
            match = _PAGE.match(member.name)
            if match and member.isfile():
                data = tar.extractfile(member)
                if data is not None:
                    by_lang[match.group(1)] += page_paragraphs(data.read())
    english = set(by_lang.pop("C", []))
    out = {"C": sorted({p for p in english if len(p) >= min_chars})}
    for lang, paragraphs in by_lang.items():
        out[lang] = sorted({p for p in paragraphs if len(p) >= min_chars and p not in english})
    return out
