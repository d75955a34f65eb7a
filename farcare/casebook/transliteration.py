"""Names as regular expressions that match them in every script a case may carry them in.

Pure (no Django, no database). No transliteration library is installed, so the tables are ours:
- Cyrillic → Latin: each letter as the alternation of the spellings the common schemes give it
  (ICAO 9303 of Russian passports since 2013, GOST 7.79 system B, BGN/PCGN, the older "j"
  and German-style spellings), so one pattern matches Ivanov, Iwanow, Ivanoff and Ivanov;
- Latin → Cyrillic: the reverse, letter groups first (shch, zh, kh, ts, ch, sh, yu, ya…);
- Hangul ↔ Latin: a syllable is decomposed arithmetically (U+AC00 + (initial·21 + vowel)·28 +
  final) and each jamo given its Revised Romanization and the older spellings still common in
  names (McCune–Reischauer-like: Park, Choi, Lee, Joon, Young); Hangul → Cyrillic by the
  Kontsevich system with its common variants (Ким, Пак, Цой/Чхве).
"""

from __future__ import annotations

import re
from functools import cache

# --- Cyrillic → Latin ------------------------------------------------------------------------

CYRILLIC_TO_LATIN: dict[str, tuple[str, ...]] = {
    "а": ("a",),
    "б": ("b",),
    "в": ("v", "w", "ff", "f"),
    "г": ("g", "gh", "h"),
    "д": ("d",),
    "е": ("e", "ye", "ie", "je"),
    "ё": ("e", "yo", "io", "jo", "ë"),
    "ж": ("zh", "j", "g", "zj", "sch"),
    "з": ("z", "s"),
    "и": ("i", "y"),
    "й": ("i", "y", "j", ""),
    "к": ("k", "c", "ck"),
    "л": ("l",),
    "м": ("m",),
    "н": ("n",),
    "о": ("o",),
    "п": ("p",),
    "р": ("r",),
    "с": ("s", "ss"),
    "т": ("t",),
    "у": ("u", "ou", "oo"),
    "ф": ("f", "ph"),
    "х": ("kh", "h", "x", "ch"),
    "ц": ("ts", "tz", "cz", "c", "z"),
    "ч": ("ch", "tch", "tsch", "c"),
    "ш": ("sh", "sch"),
    "щ": ("shch", "shh", "sch", "sc"),
    "ъ": ("ie", "''", "'", '"', ""),
    "ы": ("y", "i", "y'"),
    "ь": ("", "'"),
    "э": ("e", "e'", "eh"),
    "ю": ("iu", "yu", "ju", "u"),
    "я": ("ia", "ya", "ja", "a"),
}

# Letter groups first, then single letters; where a Latin spelling is ambiguous, every Cyrillic
# letter it may stand for.
LATIN_TO_CYRILLIC: tuple[tuple[str, str], ...] = (
    ("shch", "щ"),
    ("tsch", "ч"),
    ("sch", "(?:щ|ш)"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "(?:ц|тс)"),
    ("tz", "ц"),
    ("ch", "(?:ч|х)"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("iu", "(?:ю|иу)"),
    ("ju", "(?:ю|джу)"),
    ("ya", "(?:я|ья|ия)"),
    ("ia", "(?:я|ия)"),
    ("ja", "(?:я|джа)"),
    ("yo", "(?:ё|йо|е)"),
    ("jo", "(?:ё|джо)"),
    ("ye", "(?:е|ье)"),
    ("ff", "(?:в|фф|ф)"),
    ("ph", "ф"),
    ("ck", "к"),
    ("a", "а"),
    ("b", "б"),
    ("c", "(?:к|ц|с)"),
    ("d", "д"),
    ("e", "(?:е|э|ё)"),
    ("f", "ф"),
    ("g", "г"),
    ("h", "х"),
    ("i", "(?:и|й|ы)"),
    ("j", "(?:й|дж|ж)"),
    ("k", "к"),
    ("l", "(?:л|ль)"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("q", "к"),
    ("r", "р"),
    ("s", "(?:с|з)"),
    ("t", "т"),
    ("u", "(?:у|ю)"),
    ("v", "в"),
    ("w", "(?:в|у)"),
    ("x", "(?:кс|х)"),
    ("y", "(?:ы|й|и)"),
    ("z", "(?:з|ц)"),
    ("'", "(?:ь|ъ)?"),
    ("-", "-?"),
)


def _alternation(options: tuple[str, ...] | list[str]) -> str:
    unique = sorted({o for o in options}, key=lambda o: (-len(o), o))
    if unique == [""]:
        return ""
    body = "|".join(re.escape(o) for o in unique if o)
    return f"(?:{body})" + ("?" if "" in unique else "")


def cyrillic_to_latin_pattern(word: str) -> str:
    """A pattern matching `word` (Cyrillic) in every usual Latin spelling, case-insensitively."""
    parts = []
    for letter in word.lower():
        options = CYRILLIC_TO_LATIN.get(letter)
        parts.append(_alternation(options) if options else re.escape(letter))
    return "".join(parts)


def latin_to_cyrillic_pattern(word: str) -> str:
    """A pattern matching the Cyrillic spellings of a name written in Latin letters."""
    text = word.lower()
    parts: list[str] = []
    position = 0
    while position < len(text):
        for latin, cyrillic in LATIN_TO_CYRILLIC:
            if text.startswith(latin, position):
                parts.append(cyrillic)
                position += len(latin)
                break
        else:
            parts.append(re.escape(text[position]))
            position += 1
    return "".join(parts)


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)


def is_hangul(word: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in word)


def is_latin(word: str) -> bool:
    return any("a" <= c.lower() <= "z" for c in word)


# --- Russian declension ----------------------------------------------------------------------

# (ending of the nominative, how many letters the stem drops, the endings a declined form may
# carry after the stem). Checked in order; the first that fits decides.
DECLENSION: tuple[tuple[str, int, str], ...] = (
    ("ский", 2, "ий|ой|ого|ому|им|ом|ая|ую|ие|их|ими"),
    ("цкий", 2, "ий|ой|ого|ому|им|ом|ая|ую|ие|их|ими"),
    ("ская", 2, "ий|ой|ого|ому|им|ом|ая|ую|ие|их|ими"),
    ("цкая", 2, "ий|ой|ого|ому|им|ом|ая|ую|ие|их|ими"),
    ("ова", 1, "|а|ой|у|ою|ы|ых|ым"),
    ("ева", 1, "|а|ой|у|ою|ы|ых|ым"),
    ("ёва", 1, "|а|ой|у|ою|ы|ых|ым"),
    ("ина", 1, "|а|ой|у|ою|ы|ых|ым|е"),
    ("ына", 1, "|а|ой|у|ою|ы|ых|ым"),
    ("вна", 1, "а|ы|е|у|ой|ою"),
    ("ична", 1, "а|ы|е|у|ой|ою"),
    ("вич", 0, "|а|у|ем|е|ам"),
    ("ов", 0, "|а|у|ым|ом|е|ой|ы|ых|ыми"),
    ("ев", 0, "|а|у|ым|ом|е|ой|ы|ых|ыми"),
    ("ёв", 0, "|а|у|ым|ом|е|ой|ы|ых|ыми"),
    ("ин", 0, "|а|у|ым|ом|е|ой|ы|ых|ыми"),
    ("ын", 0, "|а|у|ым|ом|е|ой|ы|ых|ыми"),
    ("ия", 1, "я|и|ю|ей|ею"),
    ("а", 1, "а|ы|и|е|у|ой|ою"),
    ("я", 1, "я|и|е|ю|ей|ею"),
    ("й", 1, "й|я|ю|ем|е|и"),
    ("ь", 1, "ь|я|ю|ем|е|и|ей"),
)
CONSONANT_ENDINGS = "|а|у|ом|ем|е|ым|ы|ой"
INDECLINABLE = "оеиуэюых"


def _yo(pattern: str) -> str:
    # е and ё are written interchangeably.
    return re.sub("[её]", "[её]", pattern)


def russian_forms_pattern(word: str) -> str:
    """A pattern for a Russian name and its case forms (Иванов, Иванова, Иванову, Ивановым):
    the stem, then one of the endings its type takes."""
    lower = word.lower()
    for nominative, drop, endings in DECLENSION:
        if lower.endswith(nominative) and len(lower) - drop >= 2:
            stem = lower[: len(lower) - drop] if drop else lower
            return f"{_yo(re.escape(stem))}(?:{_yo(endings)})"
    if lower[-1:] in INDECLINABLE:
        return _yo(re.escape(lower))
    return f"{_yo(re.escape(lower))}(?:{_yo(CONSONANT_ENDINGS)})"


LATIN_ENDINGS = "a|u|y|ym|im|om|em|e|oy|oi|oj|ogo|omu|aya|aia|aja|ii|iy|ij|yi|i|ich|ovna|evna"


def latin_stem_pattern(word: str) -> str:
    """The Latin spellings of a Russian name with the endings its case forms take."""
    lower = word.lower()
    for nominative, drop, _endings in DECLENSION:
        if lower.endswith(nominative) and len(lower) - drop >= 2:
            stem = lower[: len(lower) - drop] if drop else lower
            return f"{cyrillic_to_latin_pattern(stem)}(?:{LATIN_ENDINGS})?"
    return f"{cyrillic_to_latin_pattern(lower)}(?:{LATIN_ENDINGS})?"


# --- Hangul ----------------------------------------------------------------------------------

HANGUL_BASE, HANGUL_LAST = 0xAC00, 0xD7A3
# Revised Romanization first, then the spellings names still carry (McCune–Reischauer-like).
INITIALS: tuple[tuple[str, ...], ...] = (
    ("g", "k"),  # ㄱ
    ("kk", "gg", "k"),  # ㄲ
    ("n",),  # ㄴ
    ("d", "t"),  # ㄷ
    ("tt", "dd", "t"),  # ㄸ
    ("r", "l"),  # ㄹ
    ("m",),  # ㅁ
    ("b", "p"),  # ㅂ
    ("pp", "bb", "p"),  # ㅃ
    ("s", "sh"),  # ㅅ
    ("ss", "s"),  # ㅆ
    ("",),  # ㅇ
    ("j", "ch"),  # ㅈ
    ("jj", "tch", "j"),  # ㅉ
    ("ch", "c"),  # ㅊ
    ("k",),  # ㅋ
    ("t",),  # ㅌ
    ("p",),  # ㅍ
    ("h",),  # ㅎ
)
VOWELS: tuple[tuple[str, ...], ...] = (
    ("a",),  # ㅏ
    ("ae",),  # ㅐ
    ("ya",),  # ㅑ
    ("yae",),  # ㅒ
    ("eo", "u", "o"),  # ㅓ
    ("e",),  # ㅔ
    ("yeo", "yo", "yu"),  # ㅕ
    ("ye",),  # ㅖ
    ("o",),  # ㅗ
    ("wa",),  # ㅘ
    ("wae",),  # ㅙ
    ("oe", "oi"),  # ㅚ
    ("yo",),  # ㅛ
    ("u", "oo", "woo"),  # ㅜ
    ("wo",),  # ㅝ
    ("we",),  # ㅞ
    ("wi",),  # ㅟ
    ("yu", "yoo"),  # ㅠ
    ("eu", "u"),  # ㅡ
    ("ui", "ee", "i", "eui"),  # ㅢ
    ("i", "ee", "y"),  # ㅣ
)
FINALS: tuple[tuple[str, ...], ...] = (
    ("",),
    ("k", "g"),  # ㄱ
    ("k",),  # ㄲ
    ("k",),  # ㄳ
    ("n",),  # ㄴ
    ("n",),  # ㄵ
    ("n",),  # ㄶ
    ("t", "d"),  # ㄷ
    ("l", "r"),  # ㄹ
    ("k",),  # ㄺ
    ("m",),  # ㄻ
    ("l",),  # ㄼ
    ("l",),  # ㄽ
    ("l",),  # ㄾ
    ("p",),  # ㄿ
    ("l",),  # ㅀ
    ("m",),  # ㅁ
    ("p", "b"),  # ㅂ
    ("p",),  # ㅄ
    ("t", "s"),  # ㅅ
    ("t",),  # ㅆ
    ("ng",),  # ㅇ
    ("t",),  # ㅈ
    ("t",),  # ㅊ
    ("k",),  # ㅋ
    ("t",),  # ㅌ
    ("p",),  # ㅍ
    ("t",),  # ㅎ
)
# Kontsevich (the Russian system) with its common variants.
INITIALS_RU: tuple[tuple[str, ...], ...] = (
    ("к", "г"),
    ("кк", "к"),
    ("н",),
    ("т", "д"),
    ("тт", "т"),
    ("р", "л"),
    ("м",),
    ("п", "б"),
    ("пп", "п"),
    ("с", "ш"),
    ("сс", "с"),
    ("",),
    ("ч", "чж", "дж", "з"),
    ("чч", "ч"),
    ("чх", "ч", "ц"),
    ("кх", "к"),
    ("тх", "т"),
    ("пх", "п"),
    ("х",),
)
VOWELS_RU: tuple[tuple[str, ...], ...] = (
    ("а",),
    ("э", "е"),
    ("я",),
    ("йя", "я"),
    ("о", "ё"),
    ("е", "э"),
    ("ё", "е", "ю"),
    ("йе", "е"),
    ("о",),
    ("ва",),
    ("вэ",),
    ("ве", "вэ"),
    ("ё",),
    ("у",),
    ("во",),
    ("ве",),
    ("ви",),
    ("ю",),
    ("ы", "у"),
    ("ый", "и"),
    ("и",),
)
FINALS_RU: tuple[tuple[str, ...], ...] = (
    ("",),
    ("к",),
    ("к",),
    ("к",),
    ("н",),
    ("н",),
    ("н",),
    ("т",),
    ("ль", "л"),
    ("к",),
    ("м",),
    ("ль",),
    ("ль",),
    ("ль",),
    ("п",),
    ("ль",),
    ("м",),
    ("п",),
    ("п",),
    ("т", "с"),
    ("т",),
    ("н", "нг"),
    ("т",),
    ("т",),
    ("к",),
    ("т",),
    ("п",),
    ("т",),
)

# Korean family names as they are usually written in Latin and Cyrillic letters, beyond what the
# syllable tables give (Lee for 이, Park for 박, Choi for 최; Ли, Пак, Цой).
SURNAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "김": (("kim", "gim"), ("ким",)),
    "이": (("lee", "yi", "rhee", "li", "rie", "i"), ("ли", "и")),
    "리": (("lee", "ri", "li"), ("ли", "ри")),
    "박": (("park", "pak", "bak"), ("пак", "бак")),
    "최": (("choi", "choe", "chwe"), ("цой", "чхве", "чой")),
    "정": (("jung", "jeong", "chung", "cheong"), ("чон", "чен", "чжон", "тен")),
    "강": (("kang", "gang"), ("кан", "ган")),
    "조": (("cho", "jo", "joh"), ("чо", "чжо", "тё")),
    "윤": (("yoon", "yun"), ("юн",)),
    "장": (("jang", "chang"), ("чан", "чжан", "тян")),
    "임": (("lim", "im", "rim"), ("лим", "им")),
    "한": (("han",), ("хан",)),
    "오": (("oh", "o"), ("о",)),
    "서": (("seo", "suh", "so"), ("со", "сё")),
    "신": (("shin", "sin"), ("шин", "син")),
    "권": (("kwon", "gwon"), ("квон", "гвон")),
    "황": (("hwang",), ("хван",)),
    "안": (("ahn", "an"), ("ан",)),
    "송": (("song",), ("сон",)),
    "류": (("ryu", "yoo", "yu", "ryoo"), ("рю", "ю")),
    "유": (("yoo", "yu"), ("ю", "юй")),
    "전": (("jeon", "jun", "chun", "chon"), ("чон", "чжон", "тен")),
    "홍": (("hong",), ("хон",)),
    "고": (("ko", "go"), ("ко", "го")),
    "문": (("moon", "mun"), ("мун",)),
    "양": (("yang",), ("ян",)),
    "손": (("son", "sohn"), ("сон",)),
    "배": (("bae", "pae"), ("пэ", "бэ")),
    "백": (("baek", "paek", "baik"), ("пэк", "бэк")),
    "허": (("heo", "hur", "huh"), ("хо",)),
    "남": (("nam",), ("нам",)),
    "심": (("shim", "sim"), ("шим", "сим")),
    "노": (("noh", "roh", "no"), ("но", "ро")),
    "하": (("ha",), ("ха",)),
    "곽": (("kwak", "gwak"), ("квак",)),
    "성": (("sung", "seong"), ("сон", "сен")),
    "차": (("cha",), ("ча",)),
    "주": (("joo", "ju", "chu"), ("чу", "чжу")),
    "우": (("woo", "u"), ("у",)),
    "구": (("koo", "gu", "ku"), ("ку", "гу")),
    "민": (("min",), ("мин",)),
    "진": (("jin", "chin"), ("чин", "цзин")),
    "나": (("na", "ra"), ("на", "ра")),
    "엄": (("eom", "um", "uhm"), ("ом",)),
}


def _jamo(syllable: str) -> tuple[int, int, int] | None:
    code = ord(syllable)
    if not HANGUL_BASE <= code <= HANGUL_LAST:
        return None
    index = code - HANGUL_BASE
    return index // (21 * 28), (index % (21 * 28)) // 28, index % 28


def romanise(text: str) -> str:
    """Revised Romanization of Hangul, syllable by syllable (as names are romanised: no
    assimilation across syllables); anything else is kept."""
    out = []
    for char in text:
        parts = _jamo(char)
        if parts is None:
            out.append(char)
            continue
        initial, vowel, final = parts
        out.append(INITIALS[initial][0] + VOWELS[vowel][0] + FINALS[final][0])
    return "".join(out)


def _syllable_pattern(
    syllable: str,
    initials: tuple[tuple[str, ...], ...],
    vowels: tuple[tuple[str, ...], ...],
    finals: tuple[tuple[str, ...], ...],
) -> str:
    parts = _jamo(syllable)
    if parts is None:
        return re.escape(syllable)
    initial, vowel, final = parts
    return (
        _alternation(initials[initial]) + _alternation(vowels[vowel]) + _alternation(finals[final])
    )


SYLLABLE_JOIN = r"[\s\-]?"


@cache
def hangul_latin_pattern(word: str) -> str:
    """A Hangul name's romanised spellings, syllables optionally split by a hyphen or space."""
    return SYLLABLE_JOIN.join(_syllable_pattern(s, INITIALS, VOWELS, FINALS) for s in word)


@cache
def hangul_cyrillic_pattern(word: str) -> str:
    """A Hangul name written in Cyrillic (Kontsevich and its variants)."""
    return SYLLABLE_JOIN.join(_syllable_pattern(s, INITIALS_RU, VOWELS_RU, FINALS_RU) for s in word)


def korean_surname_patterns(family: str) -> tuple[str, str]:
    """(Latin, Cyrillic) patterns of a Korean family name, with the usual spellings."""
    latin, cyrillic = SURNAMES.get(family, ((), ()))
    latin_all = [hangul_latin_pattern(family), *(re.escape(v) for v in latin)]
    cyrillic_all = [hangul_cyrillic_pattern(family), *(re.escape(v) for v in cyrillic)]
    return "(?:" + "|".join(latin_all) + ")", "(?:" + "|".join(cyrillic_all) + ")"
