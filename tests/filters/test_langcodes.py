"""Tests for filters.langcodes against the real lid.176 label set and real text in many scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filters.langcodes import (
    DEFAULT_SCRIPT,
    ISO639_1_OF,
    LID176_TO_ISO639_3,
    MULTI_SCRIPT,
    QWEN2_LANGUAGES,
    normalize_lang_code,
    to_lang_code,
)
from filters.scripts import dominant_script

FULL_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


@pytest.fixture(scope="module")
def lid176_labels(lid_model_path: Path) -> list[str]:
    import fasttext

    model = fasttext.load_model(str(lid_model_path))
    return [label.removeprefix("__label__") for label in model.get_labels()]


def test_every_model_label_is_mapped(lid176_labels: list[str]) -> None:
    assert len(lid176_labels) == 176
    assert set(lid176_labels) == set(LID176_TO_ISO639_3)
    for label in lid176_labels:
        iso = LID176_TO_ISO639_3[label]
        assert re.fullmatch(r"[a-z]{3}", iso), (label, iso)
        assert iso in DEFAULT_SCRIPT, (label, iso)
        assert FULL_CODE.match(to_lang_code(f"__label__{label}")), label


def test_tables_are_consistent() -> None:
    assert len(LID176_TO_ISO639_3) == 176
    assert len(set(LID176_TO_ISO639_3.values())) == 176, "two labels map to one code"
    assert set(DEFAULT_SCRIPT) == set(LID176_TO_ISO639_3.values())
    assert all(re.fullmatch(r"[A-Z][a-z]{3}", s) for s in DEFAULT_SCRIPT.values())
    assert MULTI_SCRIPT.issubset(DEFAULT_SCRIPT)
    assert MULTI_SCRIPT.issuperset(
        ("srp", "uzn", "azj", "kaz", "kmr", "khk", "tgk", "pan", "snd", "bos", "hbs", "tuk")
    )
    for iso, label in ISO639_1_OF.items():
        assert LID176_TO_ISO639_3[label] == iso


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("__label__en", "eng_Latn"),
        ("__label__zh", "cmn_Hani"),
        ("ja", "jpn_Jpan"),
        ("ko", "kor_Hang"),
        ("ru", "rus_Cyrl"),
        ("sr", "srp_Cyrl"),
        ("hi", "hin_Deva"),
        ("ar", "arb_Arab"),
        ("fa", "pes_Arab"),
        ("ms", "zsm_Latn"),
        ("et", "ekk_Latn"),
        ("lv", "lvs_Latn"),
        ("no", "nob_Latn"),
        ("ne", "npi_Deva"),
        ("mn", "khk_Cyrl"),
        ("sq", "als_Latn"),
        ("als", "gsw_Latn"),
        ("sh", "hbs_Latn"),
        ("bh", "bho_Deva"),
        ("yi", "ydd_Hebr"),
        ("he", "heb_Hebr"),
        ("el", "ell_Grek"),
        ("th", "tha_Thai"),
        ("my", "mya_Mymr"),
        ("ceb", "ceb_Latn"),
        ("yue", "yue_Hani"),
        ("dv", "div_Thaa"),
    ],
)
def test_label_to_code(label: str, expected: str) -> None:
    assert to_lang_code(label) == expected


@pytest.mark.parametrize(
    ("script", "text"),
    [
        ("Latn", "Der schnelle braune Fuchs springt über den faulen Hund."),
        ("Latn", "Tiếng Việt có dấu: người, được, những."),
        ("Cyrl", "Съешь же ещё этих мягких французских булок, да выпей чаю."),
        ("Grek", "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο."),
        ("Arab", "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم."),
        ("Hebr", "עברית היא שפה שמית מן הענף הכנעני."),
        ("Deva", "हिन्दी विश्व की एक प्रमुख भाषा है।"),
        ("Beng", "বাংলা ভাষা দক্ষিণ এশিয়ার একটি ভাষা।"),
        ("Guru", "ਪੰਜਾਬੀ ਇੱਕ ਹਿੰਦ-ਆਰੀਆਈ ਭਾਸ਼ਾ ਹੈ।"),
        ("Gujr", "ગુજરાતી ભારતની એક ભાષા છે."),
        ("Orya", "ଓଡ଼ିଆ ଏକ ଭାରତୀୟ ଭାଷା।"),
        ("Taml", "தமிழ் ஒரு திராவிட மொழி ஆகும்."),
        ("Telu", "తెలుగు ఒక ద్రావిడ భాష."),
        ("Knda", "ಕನ್ನಡ ಒಂದು ದ್ರಾವಿಡ ಭಾಷೆ."),
        ("Mlym", "മലയാളം ഒരു ദ്രാവിഡ ഭാഷയാണ്."),
        ("Sinh", "සිංහල ශ්‍රී ලංකාවේ භාෂාවකි."),
        ("Thai", "ภาษาไทยเป็นภาษาราชการของประเทศไทย"),
        ("Laoo", "ພາສາລາວແມ່ນພາສາທາງການຂອງລາວ"),
        ("Mymr", "မြန်မာဘာသာစကားသည် မြန်မာနိုင်ငံ၏ ရုံးသုံးဘာသာစကား ဖြစ်သည်။"),
        ("Khmr", "ភាសាខ្មែរជាភាសាផ្លូវការរបស់កម្ពុជា។"),
        ("Tibt", "བོད་ཀྱི་སྐད་ཡིག་ནི་བོད་མིའི་སྐད་ཡིག་ཡིན།"),
        ("Geor", "ქართული ენა ქართველური ენაა."),
        ("Armn", "Հայերենը հնդեվրոպական լեզու է։"),
        ("Ethi", "አማርኛ የኢትዮጵያ ሥራ ቋንቋ ነው።"),
        ("Thaa", "ދިވެހި ބަހަކީ ދިވެހިރާއްޖޭގެ ބަހެވެ."),
        ("Hang", "한국어는 대한민국의 공용어이다."),
        ("Hani", "中文是世界上使用人数最多的语言之一。"),
        ("Jpan", "日本語は日本の公用語です。"),
        ("Kore", "大韓民國 憲法 第一條 대한민국은 民主共和國이다."),
    ],
)
def test_dominant_script(script: str, text: str) -> None:
    assert dominant_script(text) == script


def test_dominant_script_ignores_non_letters() -> None:
    assert dominant_script("") is None
    assert dominant_script("12345 -- !!! ... ١٢٣ ۔ ©®") is None
    # digits, punctuation and URLs do not outvote the letters
    assert dominant_script("Москва 2024!!! 100% ... 12345678901234567890") == "Cyrl"
    # Latin letters only win where they really are the majority
    assert dominant_script("Привет мир, это тест. See https://x.io") == "Cyrl"


def test_dominant_script_reads_a_bounded_prefix() -> None:
    text = "Привет " * 400 + "hello " * 100_000
    assert dominant_script(text) == "Cyrl"


def test_serbian_script_comes_from_text() -> None:
    cyrillic = "Београд је главни и највећи град Србије."
    latin = "Beograd je glavni i najveći grad Srbije."
    assert to_lang_code("__label__sr", cyrillic) == "srp_Cyrl"
    assert to_lang_code("__label__sr", latin) == "srp_Latn"
    assert to_lang_code("sr") == "srp_Cyrl"
    assert to_lang_code("uz", "Oʻzbekiston Respublikasi poytaxti Toshkent.") == "uzn_Latn"
    assert to_lang_code("uz", "Ўзбекистон Республикаси пойтахти Тошкент.") == "uzn_Cyrl"


def test_script_of_single_script_languages_is_fixed() -> None:
    # Japanese with kana is jpn_Jpan however the text is split between Han and kana
    assert dominant_script("東京は日本の首都です。") == "Jpan"
    assert to_lang_code("ja", "東京は日本の首都です。") == "jpn_Jpan"
    assert to_lang_code("ja", "カタカナ") == "jpn_Jpan"
    assert to_lang_code("zh", "中文") == "cmn_Hani"
    assert to_lang_code("ko", "大韓民國 憲法 대한민국은 民主共和國이다.") == "kor_Hang"
    # a script the language is not written in is noise: keep the default
    assert to_lang_code("sr", "Αθήνα είναι η πρωτεύουσα") == "srp_Cyrl"
    assert to_lang_code("en", "Привет мир") == "eng_Latn"


def test_unknown_label() -> None:
    assert to_lang_code("__label__xx") == "und_Zyyy"
    assert to_lang_code("xx", "Привет мир") == "und_Cyrl"
    assert to_lang_code("xx", "123") == "und_Zyyy"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh", "cmn_Hani"),
        ("cmn", "cmn_Hani"),
        ("cmn_Hani", "cmn_Hani"),
        ("zho", "cmn_Hani"),
        ("ZH", "cmn_Hani"),
        ("__label__en", "eng_Latn"),
        ("sr_Latn", "srp_Latn"),
        ("srp_latn", "srp_Latn"),
        ("gsw", "gsw_Latn"),
        ("als", "als_Latn"),  # ISO 639-3 Tosk Albanian wins over lid.176's Alemannic label
        ("eml", "egl_Latn"),
        ("und_Latn", "und_Latn"),
    ],
)
def test_normalize_lang_code(code: str, expected: str) -> None:
    assert normalize_lang_code(code) == expected


def test_normalize_round_trips() -> None:
    for label, iso in LID176_TO_ISO639_3.items():
        full = to_lang_code(label)
        assert normalize_lang_code(full) == full
        assert normalize_lang_code(iso) == full
        if label != "als":  # "als" reads as ISO 639-3 Tosk Albanian; see test above
            assert normalize_lang_code(ISO639_1_OF[iso]) == full


@pytest.mark.parametrize("bad", ["xx_bad", "xx", "eng_Bad", "cmn_Hanz", "", "english"])
def test_normalize_rejects_unknown(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        normalize_lang_code(bad)


def test_qwen2_languages() -> None:
    assert len(QWEN2_LANGUAGES) == len(set(QWEN2_LANGUAGES)) == 30
    labels = "en zh de fr es pt it nl ru cs pl ar fa he tr ja ko vi th id ms lo my ceb km tl hi bn ur uk"
    assert tuple(normalize_lang_code(label) for label in labels.split()) == QWEN2_LANGUAGES
