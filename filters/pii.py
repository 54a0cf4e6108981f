"""PII redaction: replace e-mail addresses, IP addresses and secrets with placeholders.

Modelled on the BigCode/StarCoder PII pipeline, with regexes only (no NER model):

* **e-mail addresses** -> ``<EMAIL>``. Retina image names (``logo@2x.png``) are not addresses.
* **IP addresses** -> ``<IP_ADDRESS>``. IPv4 (four dotted octets 0-255 without leading zeros)
  and IPv6 (validated with :mod:`ipaddress`). Only *global* addresses are redacted by default:
  private, loopback, link-local, multicast, reserved and documentation ranges (``10.0.0.1``,
  ``127.0.0.1``, ``192.168.1.1``, ``::1``, ``2001:db8::1``) identify nobody and are common in
  code and tutorials, so they stay (as StarCoder does; ``keep_private_ips: false`` redacts
  them too), and so do a few well-known public DNS resolvers (``8.8.8.8``, ``1.1.1.1``).
  IPv6 forms with fewer than two groups or no digit (``::abc``, ``dead:beef::``) are left alone.
  Version-like strings are not IPs: ``Python 3.11.7`` has three parts, ``v1.2.3.4`` and
  ``version 1.2.3.4`` are skipped by their prefix, and ``1.2.3.4.5`` is too long.
* **secrets** -> ``<SECRET>``: credentials with well-known shapes (AWS access key ids, GitHub,
  Slack, Google, OpenAI and Stripe keys, JWTs), whole PEM private-key blocks, and hard-coded
  values assigned to secret-looking names (``password = "..."``, ``"api_key": "..."``,
  ``API_TOKEN=...``) when the value looks random enough (length >= 8, Shannon entropy >= 3
  bits/char, not a placeholder like ``"your_api_key_here"``, ``"${TOKEN}"`` or a path). Only
  the value is replaced: ``password = "<SECRET>"``.

The filter only rewrites text: it never rejects. Signals count the replacements.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Callable
from typing import ClassVar, Literal

import regex

from filters.base import Filter, Rejection

# --- e-mail ---------------------------------------------------------------------------------

_EMAIL = regex.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-])"
)
_FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "avif", "tif", "tiff"})

# --- IP addresses ---------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = regex.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.[0-9])")
_IPV6 = regex.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:])"
)
_VERSION_BEFORE = regex.compile(r"(?i)(?:\bversions?|\bver\.?|\brelease|\bbuild|\bv)\s*[:=#]?\s*$")
_PUBLIC_RESOLVERS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
    "208.67.222.222", "208.67.220.220", "2001:4860:4860::8888", "2001:4860:4860::8844",
    "2606:4700:4700::1111", "2606:4700:4700::1001",
})

# --- secrets --------------------------------------------------------------------------------

_KEY_SHAPES = regex.compile(
    "|".join([
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",  # AWS access key id
        r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",  # GitHub classic / OAuth / app tokens
        r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",  # GitHub fine-grained token
        r"\bxox[baprse]-[A-Za-z0-9-]{10,250}(?![\w-])",  # Slack
        r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])",  # Google API key
        r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}\b",  # Stripe secret / restricted
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}(?![\w-])",  # JWT
    ])
)
# OpenAI-style: sk-, sk-proj-, ... with a long random tail (digits and letters mixed).
_SK_KEY = regex.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,300}(?![\w-])")
_PEM = regex.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK|)-----"
    r"(?:[A-Za-z0-9+/=\s\\:,.'\"-]*?-----END \1PRIVATE KEY\2-----"  # whole block
    r"|(?:(?:[ \t]*(?:\r?\n|\\n)[ \t]*)+[A-Za-z0-9+/=]{16,})+)"  # truncated: the base64 lines that follow
)
_B64_RUN = regex.compile(r"[A-Za-z0-9+/]{40}")
# Secret-looking names: the keyword ends the identifier, maybe with a plural or key/value suffix
# (db_password, apiKey, AWS_SECRET_ACCESS_KEY, client_secret, "auth_token"), not tokenizer.
_SECRET_NAME = (
    r"(?i:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|auth[_-]?key"
    r"|private[_-]?key|credentials?)(?i:s|[_-]?key|[_-]?value)?(?![\w-])"
)
_ASSIGNED_QUOTED = regex.compile(
    rf"""{_SECRET_NAME}["']?"""  # name, maybe quoted (JSON, dicts)
    r"""(?:[ \t]*:[ \t]*\w+(?:\[[\w, ]*\])?)?"""  # optional type annotation (password: str = ...)
    r"""\s*(?::=|=>|==|!=|=|:)\s*"""
    r"""(?:[rbuf]{0,2})(["'`])([^"'`\s\\]{8,200}+)\1"""
)
_ASSIGNED_BARE = regex.compile(  # .env / shell / YAML lines: API_TOKEN=abc123...
    rf"""(?m){_SECRET_NAME}[ \t]*[=:][ \t]*([^\s"'`#]{{12,200}}+)[ \t]*$"""
)
_LINE_START_NAME = regex.compile(r"[ \t]*(?:export[ \t]+)?[\w.-]*")
_PLACEHOLDER_WORDS = ("your", "example", "placeholder", "xxxx", "****", "dummy", "redacted", "changeme", "<", ">", "{", "}", "$", "%(")
_ENV_NAME = regex.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]+$")
_IDENTIFIER = regex.compile(r"^[a-z]+(?:[_.-][a-z]+)*$")
_PATH_OR_URL = regex.compile(r"^(?:~?/|\.{1,2}/|[A-Za-z]:\\)|://")


def _entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def looks_secret(value: str, min_entropy: float = 3.0) -> bool:
    """Whether a value assigned to a secret-looking name is plausibly a real credential."""
    if len(value) < 8:
        return False
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return False
    if _ENV_NAME.match(value) or _IDENTIFIER.match(value) or _PATH_OR_URL.search(value):
        return False
    return _entropy(value) >= min_entropy


class PIIRedaction(Filter):
    """Replace e-mail addresses, IP addresses and secrets with placeholders (never rejects)."""

    name: Literal["pii"] = "pii"
    signals: ClassVar[tuple[str, ...]] = ("emails", "ips", "secrets")

    redact_emails: bool = True
    redact_ips: bool = True
    redact_secrets: bool = True
    keep_private_ips: bool = True
    """Leave private, loopback, link-local, reserved and documentation addresses as they are."""
    email_placeholder: str = "<EMAIL>"
    ip_placeholder: str = "<IP_ADDRESS>"
    secret_placeholder: str = "<SECRET>"

    def clean(self, text: str, lang: str | None = None) -> tuple[str, dict[str, float]]:
        emails = ips = secrets = 0
        if self.redact_secrets:
            text, secrets = self._redact_secrets(text)
        if self.redact_emails and "@" in text:
            text, emails = _sub(_EMAIL, text, self._email)
        if self.redact_ips:
            if "." in text:
                text, n = _sub(_IPV4, text, self._ip)
                ips += n
            if ":" in text:
                text, n = _sub(_IPV6, text, self._ip)
                ips += n
        return text, {"emails": float(emails), "ips": float(ips), "secrets": float(secrets)}

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        return {}

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        return None

    # --- replacements: each returns the placeholder, or None to keep the match ---------------

    def _email(self, m: regex.Match) -> str | None:
        return None if m.group(1).lower() in _FILE_EXTENSIONS else self.email_placeholder

    def _ip(self, m: regex.Match) -> str | None:
        candidate = m.group(0)
        if candidate in _PUBLIC_RESOLVERS:
            return None
        if ":" in candidate:
            groups = [g for g in candidate.split(":") if g]
            if len(groups) < 2 or not any(ch.isdigit() for ch in candidate):
                return None  # "::abc", "dead:beef::": too short or wordy to be a real address
        else:
            start = m.start()
            if _VERSION_BEFORE.search(m.string, max(0, start - 16), start):
                return None
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            return None  # times (12:30:45), MAC addresses, C++ scopes
        if self.keep_private_ips and not address.is_global:
            return None
        return self.ip_placeholder

    def _redact_secrets(self, text: str) -> tuple[str, int]:
        total = 0
        if "PRIVATE KEY" in text:
            text, n = _sub(_PEM, text, self._pem)
            total += n
        text, n = _sub(_KEY_SHAPES, text, lambda m: self.secret_placeholder)
        total += n
        if "sk-" in text:
            text, n = _sub(_SK_KEY, text, self._sk_key)
            total += n
        text, n = _sub(_ASSIGNED_QUOTED, text, self._assigned, group=2)
        total += n
        text, n = _sub(_ASSIGNED_BARE, text, self._assigned_bare, group=1)
        total += n
        return text, total

    def _pem(self, m: regex.Match) -> str | None:
        return self.secret_placeholder if _B64_RUN.search(m.group(0)) else None

    def _sk_key(self, m: regex.Match) -> str | None:
        tail = m.group(0)[3:]
        has_digit = any(ch.isdigit() for ch in tail)
        has_alpha = any(ch.isalpha() for ch in tail)
        return self.secret_placeholder if has_digit and has_alpha and _entropy(tail) >= 3.5 else None

    def _assigned(self, m: regex.Match) -> str | None:
        return self.secret_placeholder if looks_secret(m.group(2)) else None

    def _assigned_bare(self, m: regex.Match) -> str | None:
        line_start = m.string.rfind("\n", 0, m.start()) + 1
        if not _LINE_START_NAME.fullmatch(m.string, line_start, m.start()):
            return None  # the name must open the line: NAME=value, export NAME=value
        value = m.group(1)
        mixed = any(ch.isdigit() for ch in value) and any(ch.isalpha() for ch in value)
        return self.secret_placeholder if mixed and looks_secret(value, 3.5) else None


def _sub(
    pattern: regex.Pattern, text: str, replace: Callable[[regex.Match], str | None], group: int = 0
) -> tuple[str, int]:
    """Replace ``group`` of each match where ``replace`` says so; (new text, replacements)."""
    parts: list[str] = []
    last = count = 0
    for m in pattern.finditer(text):
        new = replace(m)
        if new is None:
            continue
        start, end = m.span(group)
        parts.append(text[last:start])
        parts.append(new)
        last = end
        count += 1
    if not count:
        return text, 0
    parts.append(text[last:])
    return "".join(parts), count
