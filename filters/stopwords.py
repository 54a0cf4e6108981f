"""Small stop-word lists for the Gopher stop-word rule, keyed by full language code (``eng_Latn``).

Gopher (Rae et al. 2021) keeps a document only if it contains at least two of eight very common
English words (the, be, to, of, and, that, have, with): real prose is full of function words,
keyword lists, navigation menus and symbol soup are not. Here every language gets its 30-100
most frequent function words (articles, prepositions, conjunctions, pronouns, auxiliaries,
particles), written by hand for the 30 Qwen2 languages and a few more.

Two ways of matching, by script:

* spaced scripts: the document's words (:func:`filters.words.split_words`, lowercased) are looked
  up in a set; a word with an apostrophe also counts its parts (French ``l'eau`` -> ``l``), so the
  elided articles of French, Italian and Catalan are found;
* spaceless scripts (Chinese, Japanese, Thai, Lao, Khmer, Burmese): function words and particles
  (的 了 是, の は が, ที่ และ, ...) are counted as non-overlapping substrings, longest first. A
  particle inside a longer word is counted too; the rule only asks for a handful of hits, which
  prose has by the dozen and menus or keyword lists rarely do.

Languages without a list get ``None`` from :func:`stop_words_for`: the rule is then skipped,
never failed. Every word is stored in both NFC and NFD so decomposed text (Vietnamese typed with
combining accents) still matches.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable

import regex


def _w(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_SERBO_CROATIAN_LATN = _w(
    "i u na da se je za od sa s ne što su po to do kao a ali ili pri koji koja koje kojeg kojem "
    "posle nakon on ona ono oni mi vi ja će bi biti bio bila bilo ima nema takođe također još već "
    "samo mnogo između nad pod kroz ka prema bez ovaj ova ovo ovi njega njoj njih mu joj im ih ga "
    "iz o ni kada kad gde gdje jer sve svi"
)

#: Stop words (lowercase) by full language code. Spaceless scripts list substrings.
STOP_WORDS: dict[str, tuple[str, ...]] = {
    # --- the 30 Qwen2 languages ------------------------------------------------------------
    "eng_Latn": _w(
        "the be to of and a an in that have has had i it for not on with he she as you do does at "
        "this but his her by from they we or will my one all would there their what so up out if "
        "about who which me when can is are was were been its than them then these those into no "
        "more our also"
    ),
    "cmn_Hani": _w(
        "的 了 是 在 和 有 我 这 也 就 不 都 个 他 她 们 到 说 要 会 着 没有 你 那 与 及 为 对 而 被 把 "
        "从 但 以 等 或 所以 因为 如果 可以 已经 这个 我们 他们 自己 什么 还 让 给 很 又 并 其 之 于 将 "
        "该 此 能 吗 呢 吧 "
        # traditional forms
        "這 們 個 說 會 沒有 為 對 從 與 將 該 還 讓 給 並 於 嗎 這個 我們 他們 因為 已經 什麼"
    ),
    "deu_Latn": _w(
        "der die das und in zu den von ist nicht mit dem sich des auf für ein eine einen einem einer "
        "eines als auch es an er sie wir ich du hat haben wird werden war sind aus bei nach wie im "
        "am um so dass oder aber noch nur vor über durch wenn man kann schon sein zum zur bis diese "
        "dieser dieses mehr"
    ),
    "fra_Latn": _w(
        "de la le les et à un une des du en est que qui dans pour pas sur au aux ce cette il elle "
        "ils elles on nous vous je avec par plus ne se sont son sa ses mais ou comme été être a "
        "avait leur leurs tout y si aussi bien fait ont entre sans l d qu n c j s"
    ),
    "spa_Latn": _w(
        "de la que el en y a los se del las un por con no una su para es al lo como más o pero sus "
        "le ha me si sin sobre este ya entre cuando todo esta ser son fue había era muy hasta desde "
        "está mi porque yo hay nos ni uno donde ese cada e otro después te otros aunque esa eso "
        "otra tan durante también"
    ),
    "por_Latn": _w(
        "de a o que e do da em um para é com não uma os no se na por mais as dos como mas foi ao ele "
        "das tem à seu sua ou ser quando muito há nos já está eu também só pelo pela até isso ela "
        "entre era depois sem mesmo aos ter seus quem nas me esse eles estão essa nem suas às "
        "este esta"
    ),
    "ita_Latn": _w(
        "di e il la che è per un in una a non si da del della le i al con lo gli come ma più anche "
        "dei nel alla sono ha se o questo questa delle ci nella mi cui suo sua quando tra fra ed ne "
        "essere stato loro dal degli sul ancora molto tutto l dell all nell dall sull c d"
    ),
    "nld_Latn": _w(
        "de en van ik te dat die in een hij het niet zijn is was op aan met als voor had er maar om "
        "hem dan zou of wat mijn men dit zo door over ze zich bij ook tot je mij uit der daar haar "
        "naar heb hoe heeft hebben deze u want nog zal me zij nu geen omdat iets worden toch al "
        "waren veel meer wordt kan wel na onder tegen"
    ),
    "rus_Cyrl": _w(
        "и в во не на я что он с со как а то все всё она так его но да ты к у же вы за бы по только "
        "ее её мне было вот от меня еще ещё нет о об из ему когда даже ли если уже или ни быть был "
        "него до вас там потом себя ей может они тут где есть для мы тебя их чем была сам чтобы без "
        "чего тоже себе под будет тогда кто этот это этого этой эти при который которые также более"
    ),
    "ces_Latn": _w(
        "a se na v ve je to že s z ze do o k ke i jako pro by ale jsou jsem byl byla bylo být který "
        "která které jeho jejich její tak po od za při u už jen také nebo aby když jak co tento tato "
        "toto si mu jsme jste má mají bude není podle před mezi pod nad"
    ),
    "pol_Latn": _w(
        "i w z na się nie do to że jest o a jak po co tak za od ale przez dla jego jej ich ten ta te "
        "tym tego być był była było są już tylko może też także czy lub oraz przy pod nad przed we "
        "ze który która które jako gdy jeśli bardzo jeszcze sobie go mu gdzie kiedy bo ma mają"
    ),
    "arb_Arab": _w(
        "في من على إلى الى أن ان عن مع هذا هذه التي الذي الذين كان كانت ما لا لم لن قد أو ثم بين كل "
        "بعد قبل حتى عند إن إذا هو هي هم ذلك تلك هناك منذ خلال أي غير بعض أكثر كما حيث لكن فقط أيضا "
        "أيضًا يكون ليس عليه فيه منه به له لها فيها منها عليها إلا لدى وفي ومن وهو وهي وقد وكان ولا"
    ),
    "pes_Arab": _w(
        "و در به از که این را با است برای آن یک تا می بر هم نیز شد شده شود کرد کرده کند بود باشد "
        "یا اما اگر هر خود ما من او آنها ها های همه دیگر بین پس پیش روی نه هیچ چه چون وی دارد "
        "داشت هست ولی زیرا بسیار همین اینکه"
    ),
    "heb_Hebr": _w(
        "של את על עם לא זה זו הוא היא הם הן גם כי אם אבל או יש אין כל מה אני אתה אנחנו לי לו לה "
        "להם רק עוד כמו היה הייתה היו אשר בין אחרי לפני כבר מאוד אחד אחת יותר כך כאשר שם אל מן עד "
        "ידי בו בה אותו אותה זאת אלה הזה הזאת שלא שהוא וגם וכן"
    ),
    "tur_Latn": _w(
        "ve bir bu da de için ile çok gibi daha ne o ama en olarak kadar sonra ise her mi mı mu mü "
        "ki var yok olan değil ben sen biz siz onlar şey veya ya diye göre önce ancak hem bile "
        "çünkü tüm bütün şu kendi nasıl neden oldu olduğu olup bunu buna bunun onu ona onun ayrıca "
        "arasında hiç"
    ),
    "jpn_Jpan": _w(
        "の に は を が で て と も へ や か な だ です ます でした ました した する して いる いた ある "
        "あり こと もの ない から まで より その この これ それ ため よう など という として について "
        "によって により また しかし そして または および ので のは では には"
    ),
    "kor_Hang": _w(
        "수 것 그 이 저 등 및 더 또 또는 그리고 그러나 하지만 그래서 따라서 또한 있다 있는 있습니다 "
        "있어 있고 없다 없는 하는 한다 하고 했다 할 한 된다 되는 된 될 것이다 것은 것을 것이 위해 "
        "위한 통해 대한 대해 같은 많은 모든 다른 이런 그런 어떤 때문에 때 중 우리 우리는 나는 "
        "저는 그는 이는 가장 매우 다시 이미 바로 함께 아니라 않는 않고 않다 못 안 잘 곳 이후 "
        "지금 있던 있을 보면"
    ),
    "vie_Latn": _w(
        "của và là có được trong cho không những các một với này đã để khi từ đến cũng như về thì "
        "ra nhiều lại sẽ nhưng vào rất đó hay còn nên mà theo bị tại do vì nếu nó họ tôi chúng ta "
        "bạn đang vẫn chỉ hơn sau trên dưới giữa lên đều nhất cái người"
    ),
    "tha_Thai": _w(
        "ที่ และ ของ ใน เป็น ได้ มี การ ไม่ ให้ จะ ว่า กับ แต่ จาก ซึ่ง โดย นี้ ไป มา อยู่ ก็ คือ ความ "
        "เพื่อ แล้ว หรือ ทั้ง ถึง ยัง เมื่อ เรา ต้อง อย่าง ขึ้น ด้วย กัน นั้น ไว้ หลัง ก่อน ระหว่าง ตาม "
        "ผู้ เขา ฉัน คุณ ทำ อีก มาก"
    ),
    "ind_Latn": _w(
        "yang dan di ke dari ini itu untuk dengan dalam pada tidak akan adalah juga oleh ada sudah "
        "telah bisa dapat karena sebagai atau mereka kami kita saya dia ia lebih tersebut bahwa "
        "hanya sangat masih seperti jika tetapi tapi setelah saat antara bagi para kepada secara "
        "agar hingga sampai belum harus banyak semua namun lagi pun serta yaitu"
    ),
    "zsm_Latn": _w(
        "yang dan di ke dari ini itu untuk dengan dalam pada tidak akan adalah ialah juga oleh ada "
        "sudah telah boleh dapat kerana sebagai atau mereka kami kita saya dia ia lebih tersebut "
        "bahawa hanya sangat masih seperti jika tetapi selepas semasa antara bagi para kepada "
        "secara agar hingga sehingga belum harus banyak semua namun lagi pun serta iaitu merupakan"
    ),
    "lao_Laoo": _w(
        "ແລະ ຂອງ ໃນ ທີ່ ເປັນ ມີ ໄດ້ ຈະ ບໍ່ ກັບ ໃຫ້ ວ່າ ແມ່ນ ນີ້ ຫຼື ຫລື ແຕ່ ຈາກ ໄປ ມາ ຢູ່ ກໍ ຄື ເຊິ່ງ "
        "ຊຶ່ງ ໂດຍ ຍັງ ແລ້ວ ຫຼາຍ ຫລາຍ ການ ຄວາມ ເພື່ອ ຕໍ່ ນັ້ນ ອີກ ເຖິງ ເມື່ອ ພວກ ຂຶ້ນ"
    ),
    "mya_Mymr": _w(
        "သည် ကို မှာ တွင် နှင့် နဲ့ ၏ များ ဖြစ် ရှိ ပါ တယ် မည် ခဲ့ သော သို့ မှ လည်း ပြီး နေ ရန် အတွက် ဟု ကြ ၍ ၌ ထို ဤ လို့ ဖြင့် ကြောင့် သော်လည်း"
    ),
    "ceb_Latn": _w(
        "ang sa nga ug mga na si ni kang kini kana kadto dili wala adunay aduna usa ka siya sila "
        "kami kita ako ikaw iyang ilang ilaha atong among akong imong pero apan kay kon kung ba pa "
        "man lang gyud gayud mao gikan alang niadtong karon unya usab pud pod sab diha didto dinhi "
        "ingon tungod labing mas"
    ),
    "khm_Khmr": _w(
        "និង នៃ ជា នៅ ក្នុង ដែល បាន មាន ពី នេះ ទៅ របស់ ថា ហើយ មួយ គឺ ដើម្បី ដោយ ឬ សម្រាប់ ទេ ក៏ "
        "ត្រូវ នឹង គេ យើង ខ្ញុំ វា ទាំង ផង ដល់ លើ ពេល ច្រើន តែ ទៀត នោះ ខ្លួន"
    ),
    "tgl_Latn": _w(
        "ang ng sa na mga at ay si ni kay ko mo niya nila namin natin ito iyon iyan hindi para may "
        "mayroon kung din rin lang lamang pa ba naman kanyang kanilang siya sila kami tayo ako "
        "ikaw ka nang dahil pero ngunit o kapag upang bilang tulad isang mula hanggang po daw raw "
        "nga man yung dito doon"
    ),
    "hin_Deva": _w(
        "के का की है में और को से पर यह एक हैं भी कि ने तो था थी थे नहीं जो कर लिए इस वह हो गया "
        "गई रहा रही साथ अपने किया होता कुछ तक या बहुत अब जब तथा द्वारा कहा वे ये उस उन इसके उसके "
        "करने होने हुए हुआ बाद लेकिन पहले सकते"
    ),
    "ben_Beng": _w(
        "ও এবং এর একটি করে হয় থেকে না এই যে জন্য সঙ্গে তার আর কিন্তু হবে ছিল করা তিনি কাছে "
        "মধ্যে বা দিয়ে নিয়ে হয়ে হয়েছে করেন এক সব তাদের আমি আমরা তারা তাই যা কোনো নয় পর যখন "
        "তখন অনেক সেই এখন হলে"
    ),
    "urd_Arab": _w(
        "کے کی میں ہے اور کا کو سے نے پر یہ ہیں بھی کہ تھا تھی تھے نہیں جو کر لیے اس وہ ہو گیا گئی "
        "رہا رہی ساتھ اپنے کیا ایک یا تک بہت اب جب تو ان انہوں ہوتا ہوئے ہوا بعد لیکن پہلے سکتے "
        "کسی کوئی"
    ),
    "ukr_Cyrl": _w(
        "і й в у на не що з із до за як а та це але по від для він вона воно вони ми ви я його її "
        "їх був була було були є так також ще вже коли якщо або чи лише тільки при про під над між "
        "через який яка яке які цей ця ці те той свій себе бути може дуже все всі щоб ж же"
    ),
    # --- more European and African languages --------------------------------------------------
    "swe_Latn": _w(
        "och i att det som en på är av för med till den har de inte om ett han men var jag sig från "
        "vi så kan man när hon under också efter eller nu sin där vid mot ska skulle kommer ut får "
        "finns vara hade alla andra mycket än här då sedan över bara in blir upp även vad genom "
        "detta hans dem mellan deras hur denna sina vilket sitt"
    ),
    "dan_Latn": _w(
        "og i at det er en til på af den for de med som har ikke et der om jeg han hun vi men var "
        "fra kan så eller også sig når vil skal efter over ved hvor blev være have havde alle andre "
        "meget end her da nu sin sine deres hans hendes mod under mellem denne dette disse ud op"
    ),
    "nob_Latn": _w(
        "og i det er på til en som av for med at har de ikke den et om jeg han hun vi men var fra "
        "kan så eller også seg når vil skal etter over ved hvor ble være hadde alle andre mye enn "
        "her da nå sin sine deres hans hennes mot under mellom denne dette disse ut opp"
    ),
    "fin_Latn": _w(
        "ja on ei se että oli olla mutta kun niin myös tai hän ovat kuin joka jotka sen sekä jo "
        "vain nyt tämä tässä siitä sitä mitä mikä jos ole olisi ollut he me te minä sinä hänen "
        "heidän kanssa mukaan jälkeen aikana noin yli kaikki vielä sitten eli koska jopa ne nämä "
        "jonka joita ennen aina kuitenkin"
    ),
    "hun_Latn": _w(
        "a az és hogy nem is egy meg van volt de ez már csak mint még el ki be fel le azt ezt mert "
        "vagy ha így kell lesz lett pedig sem akkor után között alatt szerint minden sok nagyon "
        "most itt ott amely amelyek aki akik ami amit ahol mi ő ők én te valamint illetve vannak "
        "voltak"
    ),
    "ron_Latn": _w(
        "și şi în de la a cu pe care din nu o un este sunt ca că mai să se ce pentru al ale lui cel "
        "cea dar sau fi fost au ar prin după între despre până această acest aceasta acesta foarte "
        "doar iar când dacă tot toate lor ei el ea noi eu său sale unei unui"
    ),
    "ell_Grek": _w(
        "και το η ο της του την τα των τον να σε με που από για οι στο στην στη στον στα στις στους "
        "είναι ένα μια μία θα δεν ως τις τους αλλά ή όπως όταν αυτό αυτή αυτά έχει ήταν πιο μετά "
        "πριν κατά μέχρι όμως επίσης ενώ οποία οποίο οποίες οποίοι εκεί εδώ πολύ όλα"
    ),
    "bul_Cyrl": _w(
        "и в на да се е за от с не че са по това до като а но или при което която които който след "
        "той тя те ние вие аз ще бъде беше бил била били има няма както също още вече само много "
        "между над под през към без тази този тези него нея тях му им ги го"
    ),
    "srp_Cyrl": _w(
        "и у на да се је за од са с не што су по то до као а али или при који која које ког ком "
        "после након он она оно они ми ви ја ће би бити био била било има нема такође још већ само "
        "много између над под кроз ка према без овај ова ово ови њега њој њих му јој им их га из о "
        "ни када кад где јер све сви"
    ),
    "srp_Latn": _SERBO_CROATIAN_LATN,
    "hrv_Latn": _SERBO_CROATIAN_LATN,
    "bos_Latn": _SERBO_CROATIAN_LATN,
    "hbs_Latn": _SERBO_CROATIAN_LATN,
    "slk_Latn": _w(
        "a v na sa je to že s z zo do o k ku i ako pre by ale sú som bol bola bolo byť ktorý ktorá "
        "ktoré jeho ich jej tak po od za pri u už len aj tiež alebo aby keď čo tento táto toto si mu "
        "sme ste má majú bude nie podľa pred medzi pod nad"
    ),
    "cat_Latn": _w(
        "de la el i a que en les els per un una del amb no es és al com més però hi ho ha han ser va "
        "van seu seva seus seves o aquest aquesta aquests aquestes també quan sobre entre fins tot "
        "tots molt on li ens si sense perquè l d s n"
    ),
    "swh_Latn": _w(
        "na ya wa kwa ni za la katika cha vya kuwa hiyo hii huo hizo lakini au pia kama baada kabla "
        "bila ambao ambayo ambaye hadi mpaka sana zaidi tu wake yake zake wao sisi mimi wewe yeye "
        "hao hayo kila kutoka kuhusu ili kwamba hata bado tena"
    ),
}

_APOSTROPHE = regex.compile("['’]")


class StopWords:
    """Counts a language's stop words in a document (see the module docstring for the two modes)."""

    __slots__ = ("_pattern", "_set", "lang", "spaceless")

    def __init__(self, lang: str, words: Iterable[str], spaceless: bool):
        self.lang = lang
        self.spaceless = spaceless
        forms = {unicodedata.normalize(form, w).lower() for w in words for form in ("NFC", "NFD")}
        self._set = frozenset(forms)
        self._pattern = None
        if spaceless:  # longest first, so そして is one hit, not そ + し + て
            alternation = "|".join(regex.escape(w) for w in sorted(forms, key=len, reverse=True))
            self._pattern = regex.compile(alternation)

    def __contains__(self, word: str) -> bool:
        return word in self._set

    def count(self, text: str, words: Iterable[str]) -> int:
        """Stop-word hits: in ``text`` as substrings (spaceless), else among lowercased ``words``."""
        if self._pattern is not None:
            return sum(1 for _ in self._pattern.finditer(text))
        vocab = self._set
        hits = 0
        for word in words:
            if word in vocab:
                hits += 1
            elif "'" in word or "’" in word:
                hits += sum(1 for part in _APOSTROPHE.split(word) if part in vocab)
        return hits


@functools.lru_cache(maxsize=512)
def stop_words_for(lang: str | None) -> StopWords | None:
    """The stop words of ``lang`` (a full code, or a bare code such as ``en``), or None if it has none."""
    if not lang:
        return None
    from filters.langcodes import lookup_by_code, normalize_lang_code

    words = lookup_by_code(STOP_WORDS, lang)
    if words is None:

        try:
            code = normalize_lang_code(lang)
        except ValueError:
            return None
        words, lang = lookup_by_code(STOP_WORDS, code), code
        if words is None:
            return None
    from filters.words import SPACELESS_SCRIPTS

    return StopWords(lang, words, spaceless=lang.split("_", 1)[-1] in SPACELESS_SCRIPTS)
