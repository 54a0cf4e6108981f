"""Real human translations on any Debian-like machine: the installed programs' ``.mo`` catalogs.

``/usr/share/locale/<ll>/LC_MESSAGES/*.mo`` pair each English message (``msgid``) with a
translator's own sentence. ``script_weights.py`` measures sizes on them, ``lid_accuracy.py``
language ID.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from pathlib import Path

LOCALE = Path("/usr/share/locale")


def translated_messages(directory: Path) -> Iterator[tuple[str, str, int]]:
    """(English message, its translation, plural form) of every ``.mo`` file under ``directory``.

    Untranslated messages, context-qualified ones and catalogs Python cannot parse (a malformed
    header) are left out; the plural form is 0 for a message without plurals.
    """
    for mo in sorted((directory / "LC_MESSAGES").glob("*.mo")):
        try:
            with mo.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # the parsed msgid -> msgstr table
        except (OSError, ValueError, LookupError, UnicodeDecodeError):
            continue
        for key, value in catalog.items():
            key, form = key if isinstance(key, tuple) else (key, 0)
            if isinstance(key, str) and key and "\x04" not in key and value and value != key:
                yield key, value, form
