"""PII redaction filter (decontamination has tests/filters/test_decontamination.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filters.pii import PIIRedaction

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _sample_docs() -> list[tuple[str, str | None]]:
    docs = []
    for path in [SAMPLES / "web" / "multilingual_a.jsonl", SAMPLES / "web" / "multilingual_b.jsonl"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            docs.append((row["text"], row.get("expected_lang")))
    for line in (SAMPLES / "math" / "problems.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        docs.append((row["body"], row.get("expected_lang")))
    return docs


# --- PII -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pii() -> PIIRedaction:
    return PIIRedaction()


def test_emails(pii):
    text = "Write to jane.doe@example.com or bob+news@mail.co.uk. Icons: logo@2x.png, @decorator."
    out, signals = pii.clean(text)
    assert out == "Write to <EMAIL> or <EMAIL>. Icons: logo@2x.png, @decorator."
    assert signals == {"emails": 2.0, "ips": 0.0, "secrets": 0.0}


def test_ipv4_and_ipv6(pii):
    text = (
        "Server at 93.184.216.34 (v6 2607:f8b0:4005:80a::200e) answered; "
        "the router is 192.168.1.10, localhost 127.0.0.1 and ::1, docs use 2001:db8::1 and 8.8.8.8."
    )
    out, signals = pii.clean(text)
    assert out == (
        "Server at <IP_ADDRESS> (v6 <IP_ADDRESS>) answered; "
        "the router is 192.168.1.10, localhost 127.0.0.1 and ::1, docs use 2001:db8::1 and 8.8.8.8."
    )
    assert signals["ips"] == 2.0
    strict = PIIRedaction(keep_private_ips=False).clean("router 192.168.1.10 and fe80::1ff:fe23:4567:890a")
    assert strict == ("router <IP_ADDRESS> and <IP_ADDRESS>", {"emails": 0.0, "ips": 2.0, "secrets": 0.0})


AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
GITHUB_PAT = "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOPQRSTuvwxyz0123456789"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo
-----END RSA PRIVATE KEY-----"""


@pytest.mark.parametrize(
    "secret",
    [
        AWS,
        GITHUB,
        GITHUB_PAT,
        JWT,
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk-proj-Ab3De5Gh7Jk9Lm1No3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9",
    ],
)
def test_secret_shapes(pii, secret):
    out, signals = pii.clean(f"config: {secret} # do not share")
    assert out == "config: <SECRET> # do not share"
    assert signals["secrets"] == 1.0


def test_pem_block_is_redacted_whole(pii):
    text = f"Here is my deploy key, oops:\n\n{PEM}\n\nThanks for the help!"
    out, signals = pii.clean(text)
    assert out == "Here is my deploy key, oops:\n\n<SECRET>\n\nThanks for the help!"
    assert signals["secrets"] == 1.0
    # inside a string literal with escaped newlines, and a block cut off by truncation
    literal = 'KEY = "' + PEM.replace("\n", "\\n") + '"\nconnect(KEY)\n'
    assert pii.clean(literal) == ('KEY = "<SECRET>"\nconnect(KEY)\n', {"emails": 0.0, "ips": 0.0, "secrets": 1.0})
    truncated = PEM.rsplit("\n", 2)[0]
    assert pii.clean(f"dump:\n{truncated}\n\nmore text")[0] == "dump:\n<SECRET>\n\nmore text"
    # code that only names the markers is not a key
    code = 'BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\nEND = "-----END RSA PRIVATE KEY-----"\n'
    assert pii.clean(code)[0] == code


def test_assigned_secrets_in_code(pii):
    code = (
        "import os\n\n"
        'DB_HOST = "db.internal"\n'
        'password = "hunter2xyz9Q!"\n'
        "config = {'api_key': 'Zx81kLq0Pw3sNv7T', \"timeout\": 30}\n"
        "secret: str = 'a9f8e7d6c5b4a3f2'\n"
        'tokenizer = "bert-base-uncased"\n'
        'db_password = os.environ["DB_PASSWORD"]\n'
        'api_key = "your_api_key_here"\n'
        'token_env = "GITHUB_TOKEN"\n'
        'password = "changeme"\n'
    )
    out, signals = pii.clean(code)
    assert 'password = "<SECRET>"\n' in out
    assert "{'api_key': '<SECRET>', \"timeout\": 30}" in out
    assert "secret: str = '<SECRET>'" in out
    for kept in ['"bert-base-uncased"', 'os.environ["DB_PASSWORD"]', '"your_api_key_here"', '"GITHUB_TOKEN"',
                 'password = "changeme"', '"db.internal"']:
        assert kept in out
    assert signals["secrets"] == 3.0
    env = "DEBUG=true\nexport API_TOKEN=q8Zr2LmX0vB7nK4sD1fH\nPASSWORD_FILE=/run/secrets/db\n"
    out, signals = pii.clean(env)
    assert out == "DEBUG=true\nexport API_TOKEN=<SECRET>\nPASSWORD_FILE=/run/secrets/db\n"
    assert signals["secrets"] == 1.0


def test_counts_in_a_mixed_document(pii):
    text = (
        f"From: ops@company.org\nCc: dev@company.org\nHost 52.14.200.7 leaked {AWS} and {GITHUB}.\n"
        f"Auth: Bearer {JWT}\n{PEM}\n"
    )
    out, signals = pii.clean(text)
    assert signals == {"emails": 2.0, "ips": 1.0, "secrets": 4.0}
    assert out.count("<SECRET>") == 4 and out.count("<EMAIL>") == 2 and out.count("<IP_ADDRESS>") == 1
    assert "AKIA" not in out and "ghp_" not in out and "eyJ" not in out and "MIIE" not in out


@pytest.mark.parametrize(
    "text",
    [
        "Requires Python 3.11.7 or later; tested with numpy 1.26.4 and v1.2.3.4 of the plugin.",
        "Upgrade to version 1.2.3.4 before 2024-03-15. OID 1.3.6.1.4.1.311 is reserved.",
        "The meeting moved from 15.03.2024 to 12:30:45 on Tuesday; pi is about 3.14159 and e is 2.71828.",
        "Let x = 1.5e-3 and y = 2.0.1; then 10.5 * 2 = 21.0 and the ratio a:b:c is 1:2:3.",
        "In C++ write std::vector<int> v; in Rust use std::io::Result; MAC de:ad:be:ef:00:01.",
        "The risk-averse investor asked whether the token economy and password managers are safe.",
        "She emailed the team @ noon and said the passwords were stored in a vault, not in code.",
    ],
)
def test_no_false_positives(pii, text):
    out, signals = pii.clean(text)
    assert out == text
    assert signals == {"emails": 0.0, "ips": 0.0, "secrets": 0.0}


def test_samples_are_untouched(pii):
    for text, lang in _sample_docs():
        assert pii.clean(text, lang)[0] == text


def test_switches_and_placeholders():
    text = f"mail a@b.io from 52.14.200.7 with {AWS}"
    assert PIIRedaction(redact_emails=False).clean(text)[0] == "mail a@b.io from <IP_ADDRESS> with <SECRET>"
    assert PIIRedaction(redact_ips=False, redact_secrets=False).clean(text)[0] == f"mail <EMAIL> from 52.14.200.7 with {AWS}"
    custom = PIIRedaction(email_placeholder="[email]", ip_placeholder="[ip]", secret_placeholder="[key]")
    assert custom.clean(text)[0] == "mail [email] from [ip] with [key]"


def test_pii_never_rejects(pii):
    text = f"Contact me at someone@example.net, key {AWS}"
    cleaned, signals, rejection = pii.check(text)
    assert rejection is None and pii.reject_reason(signals) is None
    assert cleaned == "Contact me at <EMAIL>, key <SECRET>"
    assert pii.filter(text)
