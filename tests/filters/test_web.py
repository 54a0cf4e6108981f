"""Gopher, C4 and FineWeb quality filters (filters.web) in spaced and spaceless scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from filters.stopwords import STOP_WORDS, stop_words_for
from filters.text import RepetitionFilter
from filters.web import C4Quality, FineWebQuality, GopherQuality

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FILTERS = (GopherQuality, C4Quality, FineWebQuality)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


WEB_DOCS = _jsonl(SAMPLES / "web" / "multilingual_a.jsonl") + _jsonl(SAMPLES / "web" / "multilingual_b.jsonl")
JUNK_DOCS = _jsonl(SAMPLES / "junk" / "junk.jsonl")


def prose(lang: str, index: int = 0) -> str:
    """A clean prose document in ``lang`` from the multilingual samples."""
    return [d["text"] for d in WEB_DOCS if d["expected_lang"] == lang][index]


def reason(flt, text: str, lang: str | None) -> str | None:
    rejection = flt.check(text, lang)[2]
    return None if rejection is None else rejection.reason


# --- the samples --------------------------------------------------------------------------


@pytest.mark.parametrize("flt", [cls() for cls in FILTERS], ids=lambda f: f.name)
def test_every_clean_sample_is_kept_unchanged(flt):
    for doc in WEB_DOCS:
        text, signals, rejection = flt.check(doc["text"], doc["expected_lang"])
        assert rejection is None, (doc["id"], doc["expected_lang"], rejection, signals)
        assert text == doc["text"], doc["id"]


def test_every_boilerplate_and_spam_sample_is_rejected():
    filters = [cls() for cls in FILTERS] + [RepetitionFilter()]
    junk = [d for d in JUNK_DOCS if d["kind"] in ("boilerplate", "seo_spam")]
    assert len(junk) >= 4
    for doc in junk:
        for lang in ("eng_Latn", None):
            verdicts = {f.name: reason(f, doc["text"], lang) for f in filters}
            assert any(verdicts.values()), (doc["id"], lang, verdicts)
            mine = {name: r for name, r in verdicts.items() if name != "repetition"}
            assert any(mine.values()), (doc["id"], lang, verdicts)  # not only thanks to RepetitionFilter


def test_all_junk_kinds_rejected_by_some_web_filter():
    filters = [cls() for cls in FILTERS]
    for doc in JUNK_DOCS:
        assert any(reason(f, doc["text"], "eng_Latn") for f in filters), doc["id"]


# --- Gopher -------------------------------------------------------------------------------

MENU_RU = "\n".join(["Главная", "Новости", "Спорт", "Погода", "Контакты", "О компании", "Войти"] * 3)
BULLETS_RU = "\n".join(
    f"- {item}"
    for item in [
        "доставка по всей стране в течение двух рабочих дней",
        "оплата картой или наличными при получении заказа",
        "гарантия качества на всю продукцию нашего магазина",
        "скидки постоянным покупателям и участникам программы",
        "возврат товара в течение тридцати календарных дней",
        "круглосуточная поддержка по телефону и через чат",
        "бесплатная упаковка подарков к праздникам и датам",
        "самовывоз из пунктов выдачи в крупных городах",
        "подробные инструкции и видеообзоры для каждого товара",
        "бонусные баллы за отзывы и рекомендации друзьям",
    ]
)
DIALOGUE_RU = "\n".join(
    [
        "— Ты уже слышал, что мост через реку наконец открыли после ремонта?",
        "— Да, вчера вечером я сам проехал по нему на велосипеде до самого рынка.",
        "— И как тебе новая дорога, стало ли удобнее добираться до центра города?",
        "— Намного лучше, теперь дорога занимает всего двадцать минут вместо часа.",
        "— Тогда в субботу поедем вместе, я как раз хотел купить свежих овощей.",
        "— Договорились, я зайду за тобой утром, и мы отправимся сразу после завтрака.",
    ]
)
KEYWORDS_ZH = "\n".join(
    [
        "手机 手机壳 苹果手机 华为手机 小米手机 手机配件 充电器 数据线 蓝牙耳机",
        "平板电脑 笔记本电脑 移动电源 无线充电 保护膜 钢化膜 游戏手柄 电脑包",
        "鼠标 键盘 显示器 路由器 音箱 摄像头 硬盘 内存条 显卡 主板 机箱 电源",
        "特价 包邮 正品 现货 批发 团购 秒杀 优惠券 新品 热卖 爆款 清仓",
    ]
)
KEYWORDS_JA = "\n".join(
    [
        "格安スマホ 比較 ランキング おすすめ 最新 人気 通販 激安 送料無料 ポイント還元",
        "セール 限定 新品 中古 買取 査定 口コミ 評判 価格 最安値 即日発送 正規品",
        "iPhone Android タブレット イヤホン 充電器 ケース 保護フィルム 急速充電",
        "楽天 Amazon 公式 クーポン 割引 福袋 予約 在庫 入荷 発売日 新作 特典",
    ]
)
KEYWORDS_HI = (
    "सस्ते होटल दिल्ली सस्ते होटल मुंबई ऑनलाइन बुकिंग सस्ती उड़ान टिकट बुकिंग ट्रेन टिकट "
    "बस टिकट ऑफर कूपन कोड छूट डील मोबाइल रिचार्ज बिजली बिल भुगतान गैस बुकिंग होटल डील "
    "सस्ते पैकेज गोवा टूर पैकेज शिमला टूर पैकेज मनाली हनीमून पैकेज कैशबैक ऑफर आज\n"
    "लैपटॉप ऑफर स्मार्टफोन सेल टीवी डील फ्रिज छूट वॉशिंग मशीन ऑफर एसी सेल कूलर डील पंखा छूट "
    "जूते सेल कपड़े ऑफर घड़ी डील बैग छूट चश्मा सेल"
)
HASHTAGS_AR = " ".join(
    ["#تخفيضات", "#عروض", "#تسوق", "#موضة", "#السعودية", "#دبي", "#خصم", "#جديد", "#هدايا"] * 8
)
SYMBOLS = "\n".join(["★★★ ■■■ ◆◆◆ ▲▲▲ ●●● ♥♥♥ ☆☆☆ ※※※ →→→ ←←←"] * 12)
ELLIPSIS_EN = "\n".join(
    f"{title} and what it means for readers who follow the story closely…"
    for title in [
        "The mayor announced a new plan for the harbour district",
        "Local schools will receive funding for new science labs",
        "The river festival returns this summer after a long pause",
        "A small bakery wins the regional prize for its sourdough",
        "Volunteers restore the old lighthouse on the northern cape",
        "The museum opens a new wing dedicated to maritime history",
    ]
)


def test_gopher_rejects_junk_with_the_expected_reason():
    gopher = GopherQuality()
    assert reason(gopher, MENU_RU, "rus_Cyrl") == "too_few_words"
    assert reason(gopher, BULLETS_RU, "rus_Cyrl") == "bullet_lines"
    assert reason(gopher, KEYWORDS_ZH, "cmn_Hans") == "stop_words"
    assert reason(gopher, KEYWORDS_JA, "jpn_Jpan") == "stop_words"
    assert reason(gopher, KEYWORDS_HI, "hin_Deva") == "stop_words"
    assert reason(gopher, HASHTAGS_AR, "arb_Arab") == "hash_ratio"
    assert reason(gopher, SYMBOLS, None) == "too_few_words"
    assert reason(gopher, SYMBOLS, "cmn_Hans") == "too_few_words"
    assert reason(gopher, ELLIPSIS_EN, "eng_Latn") == "ellipsis_lines"
    assert (
        reason(gopher, "word " * 30 + "supercalifragilisticexpialidocious " * 40, "eng_Latn") == "long_words"
    )


def test_gopher_keeps_prose_in_every_script():
    gopher = GopherQuality()
    for lang in ("eng_Latn", "rus_Cyrl", "arb_Arab", "hin_Deva", "cmn_Hans", "jpn_Jpan", "tha_Thai",
                 "kor_Hang", "vie_Latn", "mya_Mymr", "khm_Khmr", "lao_Laoo"):  # fmt: skip
        assert reason(gopher, prose(lang), lang) is None, lang
    # em-dash dialogue is not a bulleted list
    assert reason(gopher, DIALOGUE_RU, "rus_Cyrl") is None


def test_gopher_spaceless_signals():
    gopher = GopherQuality()
    zh = gopher.score(prose("cmn_Hans"), "cmn_Hans")
    # words are English-equivalent words: about 0.63 per Han character (filters.words.WORD_WEIGHTS)
    assert 0.5 * zh["chars"] < zh["words"] < 0.75 * zh["chars"] and math.isnan(zh["mean_word_length"])
    assert zh["chars"] > 300 and zh["stop_words"] >= 10
    th = gopher.score(prose("tha_Thai"), "tha_Thai")
    assert 0.25 * th["chars"] < th["words"] < 0.35 * th["chars"] and th["chars"] > 300 and th["stop_words"] >= 10
    en = gopher.score(prose("eng_Latn"), "eng_Latn")
    assert math.isnan(en["chars"]) and 3 < en["mean_word_length"] < 10 and en["stop_words"] >= 20
    # the script is read from the text when there is no language
    assert math.isnan(gopher.score(prose("cmn_Hans"), None)["mean_word_length"])


def test_gopher_skips_stop_words_for_languages_without_a_list():
    gopher = GopherQuality()
    tamil = prose("tam_Taml")
    assert stop_words_for("tam_Taml") is None
    signals = gopher.score(tamil, "tam_Taml")
    assert math.isnan(signals["stop_words"])
    assert reason(gopher, tamil, "tam_Taml") is None
    assert math.isnan(gopher.score(prose("eng_Latn"), None)["stop_words"])
    # a list exists but the document has none of its words: that is a rejection
    assert reason(gopher, KEYWORDS_ZH, "cmn_Hans") == "stop_words"


def test_gopher_builtin_language_defaults_and_overrides():
    korean = prose("kor_Hang")
    assert GopherQuality().score(korean, "kor_Hang")["mean_word_length"] < 3  # eojeol are short
    assert reason(GopherQuality(), korean, "kor_Hang") is None  # built-in default: 1.5
    # the user's per-language override wins over the built-in default ...
    strict = GopherQuality(overrides={"kor_Hang": {"min_mean_word_length": 3}})
    assert reason(strict, korean, "kor_Hang") == "short_words"
    # ... and so does an option set explicitly at the top level
    assert reason(GopherQuality(min_mean_word_length=3), korean, "kor_Hang") == "short_words"
    # overrides only touch their language
    chinese = prose("cmn_Hans")
    picky = GopherQuality(overrides={"cmn_Hani": {"min_chars": 1000}})
    assert reason(picky, chinese, "cmn_Hans") == "too_few_chars"
    assert reason(picky, prose("jpn_Jpan"), "jpn_Jpan") is None
    assert (
        reason(GopherQuality(overrides={"tha_Thai": {"min_stop_words": 500}}), prose("tha_Thai"), "tha_Thai")
        == "stop_words"
    )


def test_gopher_thresholds_are_fields():
    english = prose("eng_Latn")
    assert reason(GopherQuality(min_words=1000), english, "eng_Latn") == "too_few_words"
    assert reason(GopherQuality(max_words=100), english, "eng_Latn") == "too_many_words"
    assert reason(GopherQuality(min_stop_words=1000), english, "eng_Latn") == "stop_words"
    assert reason(GopherQuality(max_bullet_lines_frac=None), BULLETS_RU, "rus_Cyrl") is None
    assert reason(GopherQuality(max_symbol_word_ratio=None), HASHTAGS_AR, "arb_Arab") != "hash_ratio"
    table = "\n".join(["Revenue 4120 3980 4410 4675 5020 5310 5544 5871 6120 6433"] * 8)
    assert reason(GopherQuality(min_mean_word_length=None), table, "eng_Latn") == "alpha_words"
    with pytest.raises(ValidationError):
        GopherQuality(max_bullet_lines_frac=2)
    with pytest.raises(ValueError, match="unknown option"):
        GopherQuality(overrides={"eng_Latn": {"min_wordz": 3}})
    config = GopherQuality.model_validate(
        {"name": "gopher_quality", "min_words": 10, "languages": ["eng_Latn"]}
    )
    assert config.min_words == 10 and config.applies_to("web", "eng_Latn")


# --- C4 -----------------------------------------------------------------------------------


def test_c4_clean_removes_the_right_lines_english():
    text = (
        "Skip to main content\n"
        "Home | News | Sport | Weather\n"
        "The council approved the new budget on Monday after a long debate.[1]\n"
        "Please enable JavaScript to view the comments powered by Disqus.\n"
        "This site uses cookies. By continuing to browse you agree to our use of cookies.\n"
        "Too short.\n"
        "\n"
        "Members said the money would go to schools, roads and the city library.\n"
        "Read more about the plan in our archive...\n"
        '  She added: "Residents can comment on the plan until the end of the month."  \n'
        "See our privacy policy for how we handle your personal data.\n"
    )
    cleaned, signals, rejection = C4Quality().check(text, "eng_Latn")
    assert cleaned == (
        "The council approved the new budget on Monday after a long debate.\n"
        "\n"
        "Members said the money would go to schools, roads and the city library.\n"
        'She added: "Residents can comment on the plan until the end of the month."'
    )
    assert rejection is None
    assert signals["lines_removed_frac"] == pytest.approx(7 / 10)
    assert signals["sentences"] == 3 and signals["words"] == 39
    assert 0 < signals["chars_removed_frac"] < 1


def test_c4_clean_per_script():
    c4 = C4Quality()
    zh = (
        "首页 | 新闻 | 体育 | 娱乐\n"
        "今天上午，市政府召开新闻发布会，介绍了今年城市绿化工作的最新进展。\n"
        "点击这里查看更多\n"
        "据介绍，全市今年已新建公园十二个，新增绿地面积超过三百公顷。\n"
        "本网站使用cookie以改善您的浏览体验，继续浏览即表示同意。\n"
        "好的。\n"
        "市民普遍表示，家门口的公园让周末休闲有了更多选择！"
    )
    cleaned, _, rejection = c4.check(zh, "cmn_Hans")
    assert cleaned == (
        "今天上午，市政府召开新闻发布会，介绍了今年城市绿化工作的最新进展。\n"
        "据介绍，全市今年已新建公园十二个，新增绿地面积超过三百公顷。\n"
        "市民普遍表示，家门口的公园让周末休闲有了更多选择！"
    )
    assert rejection is None
    ja = (
        "ホーム > ニュース > 地域\n"
        "駅前の商店街で先週末、恒例の夏祭りが開かれた。\n"
        "続きを読む…\n"
        "今年は四年ぶりに屋台や盆踊りが全面的に復活し、夜遅くまでにぎわった。\n"
        "「四年ぶりの祭りは、やっぱり楽しかった。」\n"
    )
    cleaned, _, rejection = c4.check(ja, "jpn_Jpan")
    assert cleaned == (
        "駅前の商店街で先週末、恒例の夏祭りが開かれた。\n"
        "今年は四年ぶりに屋台や盆踊りが全面的に復活し、夜遅くまでにぎわった。\n"
        "「四年ぶりの祭りは、やっぱり楽しかった。」"
    )
    assert rejection is None
    # Thai has no sentence-final punctuation: lines stay unless short or policy notices
    th_prose = "ตลาดน้ำเก่าแก่ริมคลองแห่งหนึ่งในภาคกลางได้กลับมาคึกคักอีกครั้ง หลังจากชาวบ้านร่วมกันฟื้นฟู"
    th = f"หน้าแรก\nข่าว\n{th_prose}\nเว็บไซต์นี้ใช้คุกกี้เพื่อประสบการณ์ที่ดีของคุณ\n{th_prose} และนักท่องเที่ยวก็กลับมา"
    cleaned, signals, rejection = c4.check(th, "tha_Thai")
    assert cleaned == f"{th_prose}\n{th_prose} และนักท่องเที่ยวก็กลับมา"
    assert signals["lines_removed_frac"] == pytest.approx(3 / 5) and rejection is None
    ar = (
        "الرئيسية | أخبار | رياضة\n"
        "افتتح صباح يوم الجمعة سوق أسبوعي جديد للمزارعين في الساحة الرئيسية وسط المدينة.\n"
        "هل يمكن أن يصبح هذا السوق تقليدا دائما في حياة سكان المدينة؟\n"
        "اقرأ المزيد\n"
        "وقال المنظمون إن السوق سيفتح أبوابه كل أسبوع حتى نهاية فصل الخريف.\n"
    )
    cleaned, _, rejection = c4.check(ar, "arb_Arab")
    assert cleaned.splitlines() == ar.splitlines()[1:3] + ar.splitlines()[4:5] and rejection is None
    hi = (
        "होम | समाचार | खेल\n"
        "राजस्थान की राजधानी जयपुर में इस वर्ष गर्मी ने पिछले कई सालों का रिकॉर्ड तोड़ दिया है।\n"
        "मौसम विभाग ने अगले तीन दिनों तक लू चलने की चेतावनी जारी की है।\n"
        "यहाँ क्लिक करें\n"
        "डॉक्टरों ने लोगों को दोपहर में घर से बाहर न निकलने और खूब पानी पीने की सलाह दी है।"
    )
    cleaned, _, rejection = c4.check(hi, "hin_Deva")
    assert cleaned.splitlines() == hi.splitlines()[1:3] + hi.splitlines()[4:5] and rejection is None


def test_c4_rejects_junk_with_the_expected_reason():
    c4 = C4Quality()
    lorem = prose("eng_Latn") + "\n\nLorem ipsum dolor sit amet, consectetur adipiscing elit."
    assert reason(c4, lorem, "eng_Latn") == "lorem_ipsum"
    code = prose("eng_Latn") + "\n\nfunction init() { return window.config; }"
    assert reason(c4, code, "eng_Latn") == "curly_bracket"
    assert reason(C4Quality(filter_curly_bracket=False), code, "eng_Latn") is None
    ru_menu = MENU_RU + "\nВсе права защищены."
    cleaned, signals, rejection = c4.check(ru_menu, "rus_Cyrl")
    assert cleaned == "" and rejection.reason == "too_few_sentences" and signals["lines_removed_frac"] == 1
    assert reason(c4, KEYWORDS_ZH, "cmn_Hans") == "too_few_sentences"
    assert reason(c4, KEYWORDS_HI, "hin_Deva") == "too_few_sentences"
    assert reason(c4, "หน้าแรก\nข่าว\nกีฬา\nบันเทิง\nติดต่อเรา", "tha_Thai") == "too_few_sentences"


def test_c4_thresholds_and_overrides():
    english = prose("eng_Latn")
    assert reason(C4Quality(min_sentences=50), english, "eng_Latn") == "too_few_sentences"
    assert reason(C4Quality(min_words=1000), english, "eng_Latn") == "too_few_words"
    assert reason(C4Quality(min_chars=1000), prose("cmn_Hans"), "cmn_Hans") == "too_few_chars"
    zh = prose("cmn_Hans")
    assert (
        reason(C4Quality(overrides={"cmn_Hani": {"min_sentences": 40}}), zh, "cmn_Hans")
        == "too_few_sentences"
    )
    assert reason(C4Quality(overrides={"eng_Latn": {"min_sentences": 40}}), zh, "cmn_Hans") is None
    # lines of 3-4 words: gone with C4's 5, kept with datatrove's 3
    short = "We went home early.\nThe rain kept falling.\nNobody minded at all.\nIt rained all evening."
    assert C4Quality().check(short, "eng_Latn")[0] == ""
    assert C4Quality(min_words_per_line=3).check(short, "eng_Latn") == (
        short,
        pytest.approx(
            {
                "lines_removed_frac": 0.0,
                "chars_removed_frac": 0.0,
                "lorem_ipsum": 0.0,
                "curly_bracket": 0.0,
                "sentences": 4.0,
                "words": 16.0,
                "chars": math.nan,
            },
            nan_ok=True,
        ),
        None,
    )
    policy = english + "\nOur partners use cookies to personalise the ads you see on this site."
    assert C4Quality().check(policy, "eng_Latn")[0] == english
    assert C4Quality(filter_policy=False).check(policy, "eng_Latn")[0] == policy
    custom = english + "\nSubscribe to our newsletter to get the best stories every week."
    assert C4Quality(policy_substrings=("newsletter",)).check(custom, "eng_Latn")[0] == english


# --- FineWeb ------------------------------------------------------------------------------


def test_fineweb_rejects_junk_with_the_expected_reason():
    fw = FineWebQuality()
    assert reason(fw, MENU_RU, "rus_Cyrl") == "line_punct_ratio"
    assert reason(fw, "", "eng_Latn") == "empty"
    # Thai: no punctuation rule, but a menu is still all short lines
    th_menu = "\n".join(["หน้าแรก", "ข่าว", "กีฬา", "บันเทิง", "ติดต่อเรา", "เกี่ยวกับเรา"] * 3)
    signals = fw.score(th_menu, "tha_Thai")
    assert math.isnan(signals["line_punct_ratio"]) and reason(fw, th_menu, "tha_Thai") == "short_line_ratio"
    # pages of very short, punctuated lines
    short_en = "\n".join(["Yes.", "No way!", "Sure.", "Why not?", "Ok.", "Fine, thanks."] * 4)
    assert reason(fw, short_en, "eng_Latn") == "short_line_ratio"
    zh_short = "\n".join(["好的。", "谢谢！", "没问题。", "真的吗？", "再见。"] * 4)
    assert reason(fw, zh_short, "cmn_Hans") == "short_line_ratio"
    # repeated boilerplate lines inside otherwise good prose
    footer = "Все материалы сайта защищены авторским правом, перепечатка запрещена."
    dup = prose("rus_Cyrl") + f"\n{footer}\n{footer}\n{footer}"
    assert reason(fw, dup, "rus_Cyrl") == "char_dup_ratio"
    assert reason(FineWebQuality(max_char_dup_ratio=None), dup, "rus_Cyrl") is None
    # one or two words per line: a list
    words_ar = "\n".join(["أخبار.", "رياضة.", "اقتصاد.", "ثقافة.", "فنون.", "سياحة."] * 5)
    lenient = FineWebQuality(max_short_line_ratio=None, max_char_dup_ratio=None)
    assert reason(lenient, words_ar, "arb_Arab") == "list_ratio"


def test_fineweb_measures_line_length_in_english_equivalent_characters():
    # a 20-character Chinese line carries what ~68 English characters do: not a short line
    zh = "\n".join(
        ["市政府今天召开发布会介绍城市绿化工作进展。"] * 1
        + [f"第{i}个公园今年春天已经正式向市民免费开放。" for i in range(1, 9)]
    )
    assert FineWebQuality().score(zh, "cmn_Hans")["short_line_ratio"] == 0
    en = "\n".join([f"Park {i} opened today." for i in range(1, 9)])
    assert FineWebQuality().score(en, "eng_Latn")["short_line_ratio"] == 1
    assert reason(FineWebQuality(), zh, "cmn_Hans") is None
    assert reason(FineWebQuality(short_line_length=80), zh, "cmn_Hans") == "short_line_ratio"
    # one-line paragraphs of 11-13 characters (a news digest): ~40 English characters each, kept
    # (counting a Han character as two columns called all of them short and dropped the page)
    digest = "\n".join(["今年全市新增公园绿地三百公顷。", "地铁五号线下月正式开通运营。", "市图书馆延长周末开放时间。",
                         "全市空气质量优良天数继续增加。"] * 2)
    assert FineWebQuality().score(digest, "cmn_Hans")["short_line_ratio"] == 0
    assert reason(FineWebQuality(max_char_dup_ratio=None), digest, "cmn_Hans") is None


def test_fineweb_thresholds_and_overrides():
    hindi = prose("hin_Deva")
    assert reason(FineWebQuality(), hindi, "hin_Deva") is None
    assert (
        reason(FineWebQuality(min_line_punct_ratio=1.0), hindi + "\nऔर पढ़ें", "hin_Deva") == "line_punct_ratio"
    )
    override = FineWebQuality(overrides={"hin_Deva": {"max_list_ratio": 0.001}})
    assert reason(override, hindi, "hin_Deva") == "list_ratio"
    assert reason(override, prose("ben_Beng"), "ben_Beng") is None
    menu = "\n".join(["Home", "About", "Products", "Contact"] * 3)
    assert reason(FineWebQuality(line_punct_exclude_zero=True, max_short_line_ratio=None, max_char_dup_ratio=None,
                                 max_list_ratio=None), menu, "eng_Latn") is None  # fmt: skip


# --- stop words ---------------------------------------------------------------------------


def test_stop_words_cover_the_qwen2_languages():
    from filters.langcodes import QWEN2_LANGUAGES
    from filters.scripts import char_script

    assert set(QWEN2_LANGUAGES) <= set(STOP_WORDS)
    for lang, words in STOP_WORDS.items():
        assert 30 <= len(set(words)) <= 100, lang
        script = lang.split("_")[1]
        allowed = {"Hani", "Hira", "Kana"} if script == "Jpan" else {script}
        for word in words:
            assert word == word.lower(), (lang, word)
            assert {char_script(c) for c in word} - {None} <= allowed, (lang, word)  # no look-alike letters
    assert stop_words_for("en") is stop_words_for("en") and "the" in stop_words_for("en")
    assert stop_words_for("xx_Zzzz") is None and stop_words_for(None) is None


def test_stop_words_match_elisions_and_substrings():
    fr = stop_words_for("fra_Latn")
    assert fr.count("", ["l'eau", "d'un", "maison"]) == 3  # l + d + un
    ja = stop_words_for("jpn_Jpan")
    assert ja.count("そしてこれは", []) == 3  # そして, これ, は — longest first
    vi = stop_words_for("vie_Latn")
    import unicodedata

    assert vi.count("", [unicodedata.normalize("NFD", "của"), "và"]) == 2
