"""Free text scrubbed of people's names, numbers, places and exact dates, in any script.

Pure (no Django, no database): `Scrubber` is built from plain data (`Person`, `Place`) and
`scrub(text)` returns the text and how many of each kind it replaced. The patterns come from
`transliteration`; what they match is listed in docs/decisions.md ("Teaching cases").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from .transliteration import (
    CYRILLIC_TO_LATIN,
    LATIN_ENDINGS,
    SURNAMES,
    hangul_cyrillic_pattern,
    hangul_latin_pattern,
    is_cyrillic,
    is_hangul,
    is_latin,
    korean_surname_patterns,
    latin_stem_pattern,
    latin_to_cyrillic_pattern,
    romanise,
    russian_forms_pattern,
)

# Kinds of replacement, counted for the reviewer (never the originals).
NAME, PLACE, SNILS, OMS, PHONE, EMAIL, DATE, AGE, BIRTH = (
    "name",
    "place",
    "snils",
    "oms",
    "phone",
    "email",
    "date",
    "age",
    "birth_date",
)

# The markers written in place of what was removed, in the case's language.
MARKERS: dict[str, dict[str, str]] = {
    "ru": {
        "patient": "[пациент]",
        "clinician": "[врач {letter}]",
        "snils": "[СНИЛС]",
        "oms": "[полис ОМС]",
        "phone": "[телефон]",
        "email": "[e-mail]",
        "birth_date": "[дата рождения]",
        "place": "[населённый пункт]",
    },
    "ko": {
        "patient": "[환자]",
        "clinician": "[의료인 {letter}]",
        "snils": "[SNILS]",
        "oms": "[OMS 보험]",
        "phone": "[전화번호]",
        "email": "[이메일]",
        "birth_date": "[생년월일]",
        "place": "[거주지]",
    },
    "en": {
        "patient": "[patient]",
        "clinician": "[clinician {letter}]",
        "snils": "[SNILS]",
        "oms": "[OMS policy]",
        "phone": "[phone]",
        "email": "[e-mail]",
        "birth_date": "[date of birth]",
        "place": "[settlement]",
    },
}


def marker(language: str, key: str, **params: str) -> str:
    table = MARKERS.get(language, MARKERS["en"])
    return table[key].format(**params)


@dataclass(frozen=True)
class Person:
    """Everyone named in a case: each part of the name in every script it is recorded in."""

    label: str
    family: tuple[str, ...] = ()
    given: tuple[str, ...] = ()
    middle: tuple[str, ...] = ()


@dataclass(frozen=True)
class Place:
    names: tuple[str, ...]
    replacement: str


# --- names -----------------------------------------------------------------------------------

# Boundaries against Latin and Cyrillic letters and digits only: Korean particles follow a name
# without a space (김민준입니다, 이바노프는).
WORD_BEFORE = r"(?<![0-9A-Za-zА-Яа-яЁё])"
WORD_AFTER = r"(?![0-9A-Za-zА-Яа-яЁё])"
KOREAN_TITLES = r"(?=\s?(?:님|씨|선생|교수|의사|과장|원장|간호사|환자|군|양))"
TITLES_BEFORE = r"(?:(?:dr|mr|mrs|ms|prof|doctor|professor|доктор|д-р|врач|фельдшер|проф)\.?\s+)"


def _tokens(values: Iterable[str]) -> list[str]:
    out = []
    for value in values:
        for token in re.split(r"[\s,]+", value.strip()):
            token = token.strip(".")
            if token:
                out.append(token)
    return out


def _forms(token: str) -> list[str]:
    """Every pattern of one name part: its script, the others, its case forms."""
    if is_hangul(token):
        return [re.escape(token), hangul_latin_pattern(token), hangul_cyrillic_pattern(token)]
    if is_cyrillic(token):
        return [russian_forms_pattern(token), latin_stem_pattern(token)]
    if is_latin(token):
        stem = _latin_stem(token.lower())
        return [
            f"{re.escape(stem)}(?:{LATIN_ENDINGS})?",
            f"{latin_to_cyrillic_pattern(stem)}(?:{RUSSIAN_ENDINGS})?",
        ]
    return [re.escape(token.lower())]


# A Russian name written in Latin letters loses its ending before the case forms are added:
# Smirnova → Smirnov- → Смирновой, Olga → Olg- → Ольгой.
LATIN_NOMINATIVE_ENDINGS = (
    ("skaya", 3),
    ("skaia", 3),
    ("skiy", 2),
    ("skii", 2),
    ("sky", 1),
    ("ova", 1),
    ("eva", 1),
    ("ina", 1),
    ("yna", 1),
    ("ya", 2),
    ("ia", 2),
    ("a", 1),
)
RUSSIAN_ENDINGS = "а|я|у|ю|ым|им|ом|ем|е|ой|ей|ы|и|ых|их|ою|ая|ую|ий|ого|ому|ь"


def _latin_stem(word: str) -> str:
    for ending, drop in LATIN_NOMINATIVE_ENDINGS:
        if word.endswith(ending) and len(word) - drop >= 3:
            return word[:-drop]
    return word


def _initials(token: str) -> list[str]:
    """The initial of a name part in each script (И / I; 민 / M)."""
    first = token[:1]
    if is_hangul(first):
        return [re.escape(first), romanise(first)[:1].upper() or re.escape(first)]
    if is_cyrillic(first):
        latin = {o[:1].upper() for o in CYRILLIC_TO_LATIN.get(first.lower(), ()) if o}
        return [re.escape(first.upper()), *sorted(latin)]
    cyrillic = latin_to_cyrillic_pattern(first.lower())
    return [re.escape(first.upper()), cyrillic.upper()]


INITIAL = r"[A-ZА-ЯЁ]"


def _any(patterns: Iterable[str]) -> str:
    unique = sorted(set(patterns), key=lambda p: (-len(p), p))
    return "(?:" + "|".join(unique) + ")"


def _person_patterns(person: Person) -> list[str]:
    """Longest first: a name with initials, then each part alone."""
    family = _tokens(person.family)
    given = _tokens(person.given)
    middle = _tokens(person.middle)
    patterns: list[str] = []
    korean_family = [t for t in family if is_hangul(t) and len(t) == 1]
    family_forms = [
        f for t in family if not (is_hangul(t) and len(t) == 1) for f in _forms(t) if len(t) >= 2
    ]
    if korean_family:
        for surname in korean_family:
            latin, cyrillic = korean_surname_patterns(surname)
            family_forms += [re.escape(surname), latin, cyrillic]
    if family_forms and given:
        fam = _any(family_forms)
        # Any one or two initials beside the family name go with it ("Иванов И.И.", even
        # when the second initial is not the recorded patronymic's).
        initials = rf"(?:{INITIAL}\.\s?){{1,2}}"
        patterns.append(rf"{fam},?\s+(?:{INITIAL}\.\s?)?{INITIAL}\.")
        patterns.append(rf"{initials}{fam}")
        given_forms = _any(f for t in given for f in _forms(t))
        # Korean order (family first, often without a space) and Western order.
        patterns.append(rf"{fam}[\s,\-]?{given_forms}")
        patterns.append(rf"{given_forms}[\s,\-]?{fam}")
    for token in given + middle:
        if (is_hangul(token) and len(token) >= 2) or len(token) >= 3:
            patterns += _forms(token)
    for token in family:
        if is_hangul(token) and len(token) == 1:
            latin, cyrillic = korean_surname_patterns(token)
            patterns.append(re.escape(token) + KOREAN_TITLES)
            patterns.append(TITLES_BEFORE + latin)
            patterns.append(TITLES_BEFORE + cyrillic)
            patterns += _long_surname_spellings(token)
        elif len(token) >= 2:
            patterns += _forms(token)
    return patterns


def _long_surname_spellings(surname: str) -> list[str]:
    """A Korean family name alone, in Latin or Cyrillic, where the spelling is long enough not
    to be an ordinary word (Kim, Park, Choi, Ким, Пак; not O, An, Ли)."""
    latin, cyrillic = SURNAMES.get(surname, ((), ()))
    return [re.escape(v) for v in (*latin, *cyrillic) if len(v) >= 3]


def _bounded(pattern: str) -> str:
    return f"{WORD_BEFORE}{pattern}{WORD_AFTER}"


# --- numbers and dates -----------------------------------------------------------------------

SEP = r"[\s\-\u2010-\u2015.()]*"
EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
PHONE_RE = re.compile(
    r"(?<![\d\w])(?:"
    r"(?:\+7|8)[\s\-]*\(?\d{3}\)?[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}"  # Russian
    # Korean mobile
    r"|(?:\+82[\s\-]*\(?0?\)?[\s\-]*1[016789]|01[016789])[\s\-]*\d{3,4}[\s\-]*\d{4}"
    r"|\+82[\s\-]*\d{1,2}[\s\-]*\d{3,4}[\s\-]*\d{4}"  # Korean landline
    r"|\(\d{3,5}\)[\s\-]*\d{1,3}[\s\-]*\d{2}[\s\-]*\d{2}"  # (42722) 2-34-56
    r"|\d{1,3}-\d{2}-\d{2}"  # a local number: 123-45-67, 2-34-56
    r")(?![\d\w])"
)
OMS_RE = re.compile(r"(?<!\d)\d{4}[\s\-]?\d{4}[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)")
SNILS_RE = re.compile(r"(?<!\d)\d{3}[\s\-]?\d{3}[\s\-]?\d{3}[\s\-]?\d{2}(?!\d)")

MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_EN_MONTH = "|".join([*MONTHS_EN, *(m[:3] + r"\.?" for m in MONTHS_EN)])
_RU_MONTH = "|".join(MONTHS_RU)
ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
DOTTED_RE = re.compile(r"(?<![\d.])(\d{1,2})([./])(\d{1,2})\2(\d{4}|\d{2})(?![\d])")
RU_TEXT_RE = re.compile(rf"(?<!\d)(\d{{1,2}})\s+({_RU_MONTH})(?:\s+(\d{{4}}))?", re.IGNORECASE)
KO_RE = re.compile(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2})\s*일")
# English month names only capitalised, as written: "may 5" is not a date.
EN_MDY_RE = re.compile(rf"\b({_EN_MONTH})\s+(\d{{1,2}})(?!\d)(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?")
EN_DMY_RE = re.compile(rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s+({_EN_MONTH})(?:,?\s+(\d{{4}}))?")
AGE_RE = re.compile(
    r"(?<!\d)(\d{2,3})(\s*[-\u2010\u2011]?\s*)"
    r"(лет|года|год|г\.\s?ж\.|-?летн\w*|years?|yrs?|y/?o|-?year-old|세|살)",
    re.IGNORECASE,
)
AGE_BEFORE_RE = re.compile(r"(возраст\w*|aged?|나이)(\s*:?\s*)(\d{2,3})(?!\d)", re.IGNORECASE)
OLDEST_AGE = 89


def _en_month(name: str) -> int:
    prefix = name[:3].lower()
    return [m[:3].lower() for m in MONTHS_EN].index(prefix) + 1


@dataclass
class Scrubber:
    """Removes what identifies: built once per case, used on every text of it."""

    language: str
    people: tuple[Person, ...] = ()
    places: tuple[Place, ...] = ()
    # The patient's own numbers as (kind, value): SNILS, OMS, phone, found in any layout.
    numbers: tuple[tuple[str, str], ...] = ()
    shift: timedelta = timedelta(0)
    reference_year: int = 2000
    birth_date: date | None = None
    _names: list[tuple[re.Pattern[str], str]] = field(default_factory=list, init=False)
    _places: list[tuple[re.Pattern[str], str]] = field(default_factory=list, init=False)
    _numbers: list[tuple[re.Pattern[str], str]] = field(default_factory=list, init=False)
    _sounds: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for person in self.people:
            patterns = _person_patterns(person)
            if patterns:
                joined = "|".join(_bounded(p) for p in patterns)
                self._names.append((re.compile(joined, re.IGNORECASE), person.label))
            for token in _tokens((*person.family, *person.given, *person.middle)):
                if not is_hangul(token):
                    sound = korean_sound(latin_spelling(token))
                    if len(sound) >= MIN_SOUND:
                        self._sounds[sound] = person.label
        for place in self.places:
            forms = [f for name in _tokens_of_place(place.names) for f in _place_forms(name)]
            if forms:
                joined = "|".join(_bounded(f) for f in forms)
                self._places.append((re.compile(joined, re.IGNORECASE), place.replacement))
        for kind, number in self.numbers:
            digits = re.sub(r"\D", "", number)
            if kind == PHONE:
                digits = digits[-10:]  # +7 914… and 8 914… alike
            if len(digits) >= 6:
                pattern = re.compile(r"(?<!\d)" + SEP.join(digits) + r"(?!\d)")
                self._numbers.append((pattern, kind))

    def scrub(self, text: str) -> tuple[str, Counter[str]]:
        counts: Counter[str] = Counter()
        if not text:
            return text, counts

        def sub(
            pattern: re.Pattern[str],
            kind: str,
            repl: str | Callable[[re.Match[str]], str],
            value: str,
        ) -> str:
            result, found = pattern.subn(repl, value)
            counts[kind] += found
            return result

        text = sub(EMAIL_RE, EMAIL, marker(self.language, "email"), text)
        text = sub(PHONE_RE, PHONE, marker(self.language, "phone"), text)
        # The patient's own numbers, in whatever other layout the text has them.
        for pattern, kind in self._numbers:
            text = sub(pattern, kind, marker(self.language, kind), text)
        text = sub(OMS_RE, OMS, marker(self.language, "oms"), text)
        text = sub(SNILS_RE, SNILS, marker(self.language, "snils"), text)
        # Names before dates: "Min-jun 12" is a name and a day, not June 12.
        for pattern, label in self._names:
            text = sub(pattern, NAME, label, text)
            text = re.sub(rf"{re.escape(label)}(?:[\s,]+{re.escape(label)})+", label, text)
        text = self._transcribed(text, counts)
        text = self._dates(text, counts)
        text = self._ages(text, counts)
        for pattern, replacement in self._places:
            text = sub(pattern, PLACE, replacement, text)
        return text, +counts

    # --- Russian names written in Hangul ---

    def _transcribed(self, text: str, counts: Counter[str]) -> str:
        """A Russian name as Korean writes it (이바노프 for Ivanov, 스미르노바 for Smirnova):
        every run of Hangul syllables is compared by sound with the names of the case."""
        if not self._sounds:
            return text

        def replace(match: re.Match[str]) -> str:
            run = match.group(0)
            out = []
            position = 0
            while position < len(run):
                found = 0
                for end in range(position + 2, len(run) + 1):  # shortest: particles stay
                    if korean_sound(romanise(run[position:end])) in self._sounds:
                        found = end
                        break
                if found:
                    counts[NAME] += 1
                    out.append(self._sounds[korean_sound(romanise(run[position:found]))])
                    position = found
                else:
                    out.append(run[position])
                    position += 1
            return "".join(out)

        return HANGUL_RUN.sub(replace, text)

    # --- dates ---

    def _shifted(self, year: int, month: int, day: int) -> date | None:
        try:
            original = date(year, month, day)
        except ValueError:
            return None
        if self.birth_date is not None and original == self.birth_date:
            return None
        return original + self.shift

    def _dates(self, text: str, counts: Counter[str]) -> str:
        birth = marker(self.language, "birth_date")

        def iso(match: re.Match[str]) -> str:
            year, month, day = (int(g) for g in match.groups())
            return self._format(match, year, month, day, lambda d: d.isoformat(), counts, birth)

        def dotted(match: re.Match[str]) -> str:
            day, sep, month, year_text = match.groups()
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            return self._format(
                match,
                year,
                int(month),
                int(day),
                lambda d: f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}",
                counts,
                birth,
            )

        def ru_text(match: re.Match[str]) -> str:
            day, month_name, year_text = match.groups()
            month = MONTHS_RU.index(month_name.lower()) + 1
            year = int(year_text) if year_text else self.reference_year
            return self._format(
                match,
                year,
                month,
                int(day),
                lambda d: f"{d.day} {MONTHS_RU[d.month - 1]}" + (f" {d.year}" if year_text else ""),
                counts,
                birth,
            )

        def korean(match: re.Match[str]) -> str:
            year_text, month, day = match.groups()
            year = int(year_text) if year_text else self.reference_year
            return self._format(
                match,
                year,
                int(month),
                int(day),
                lambda d: (f"{d.year}년 " if year_text else "") + f"{d.month}월 {d.day}일",
                counts,
                birth,
            )

        def en_mdy(match: re.Match[str]) -> str:
            month_name, day, year_text = match.groups()
            year = int(year_text) if year_text else self.reference_year
            return self._format(
                match,
                year,
                _en_month(month_name),
                int(day),
                lambda d: (
                    f"{MONTHS_EN[d.month - 1]} {d.day}" + (f", {d.year}" if year_text else "")
                ),
                counts,
                birth,
            )

        def en_dmy(match: re.Match[str]) -> str:
            day, month_name, year_text = match.groups()
            year = int(year_text) if year_text else self.reference_year
            return self._format(
                match,
                year,
                _en_month(month_name),
                int(day),
                lambda d: f"{d.day} {MONTHS_EN[d.month - 1]}" + (f" {d.year}" if year_text else ""),
                counts,
                birth,
            )

        text = ISO_RE.sub(iso, text)
        text = DOTTED_RE.sub(dotted, text)
        text = RU_TEXT_RE.sub(ru_text, text)
        text = KO_RE.sub(korean, text)
        text = EN_MDY_RE.sub(en_mdy, text)
        text = EN_DMY_RE.sub(en_dmy, text)
        if self.birth_date is not None:
            year = re.compile(rf"(?<!\d){self.birth_date.year}(?!\d)")
            text, found = year.subn(birth, text)
            counts[BIRTH] += found
        return text

    def _format(
        self,
        match: re.Match[str],
        year: int,
        month: int,
        day: int,
        render: Callable[[date], str],
        counts: Counter[str],
        birth: str,
    ) -> str:
        try:
            date(year, month, day)
        except ValueError:
            return match.group(0)  # not a date (a version number, a ratio)
        shifted = self._shifted(year, month, day)
        if shifted is None:
            counts[BIRTH] += 1
            return birth
        counts[DATE] += 1
        return render(shifted)

    # --- ages ---

    def _ages(self, text: str, counts: Counter[str]) -> str:
        def after(match: re.Match[str]) -> str:
            number, space, unit = match.groups()
            if int(number) <= OLDEST_AGE or int(number) > 130:
                return match.group(0)
            counts[AGE] += 1
            return f"90+{space}{unit}"

        def before(match: re.Match[str]) -> str:
            word, space, number = match.groups()
            if int(number) <= OLDEST_AGE or int(number) > 130:
                return match.group(0)
            counts[AGE] += 1
            return f"{word}{space}90+"

        return AGE_BEFORE_RE.sub(before, AGE_RE.sub(after, text))


HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]{2,}")
MIN_SOUND = 4
_SOUND_GROUPS = (
    ("shch", "s"),
    ("sch", "s"),
    ("tsch", "s"),
    ("sh", "s"),
    ("ch", "s"),
    ("zh", "s"),
    ("ts", "s"),
    ("kh", "h"),
    ("eu", ""),  # the vowel Korean adds between consonants (스, 프, 트)
    ("eo", "o"),
    ("ae", "e"),
    ("ck", "g"),
)
_SOUND_LETTERS = str.maketrans(
    {
        "v": "b",
        "f": "b",
        "p": "b",
        "w": "b",
        "t": "d",
        "k": "g",
        "q": "g",
        "c": "s",
        "j": "s",
        "z": "s",
        "l": "r",
        "y": "i",
        "'": None,
        "-": None,
        " ": None,
    }
)


def latin_spelling(word: str) -> str:
    """One plain Latin spelling of a name (ICAO for Cyrillic, Revised Romanization for
    Hangul), as the Korean transcription is compared with."""
    if is_cyrillic(word):
        return "".join(
            (CYRILLIC_TO_LATIN.get(c, (c,))[0] if c.isalpha() else c) for c in word.lower()
        )
    return romanise(word).lower()


def korean_sound(latin: str) -> str:
    """What a name sounds like to Korean spelling: consonant pairs Korean does not tell apart
    merged (v/b/p/f, t/d, k/g, l/r), the inserted ㅡ dropped, doubled letters single."""
    text = latin.lower()
    for group, sound in _SOUND_GROUPS:
        text = text.replace(group, sound)
    text = text.translate(_SOUND_LETTERS)
    return re.sub(r"(.)\1+", r"\1", text)


def _tokens_of_place(names: Iterable[str]) -> list[str]:
    return [
        name.strip()
        for name in names
        if name and len(name.strip()) >= (2 if is_hangul(name) else 3)
    ]


def _place_forms(name: str) -> list[str]:
    if is_hangul(name):
        return [re.escape(name)]
    if is_cyrillic(name) and " " not in name.strip():
        return [russian_forms_pattern(name), latin_stem_pattern(name)]
    return [re.escape(name)]


def age_label(years: int) -> str:
    """Ages over 89 are grouped (HIPAA Safe Harbor's rule, used by teaching archives)."""
    return "90+" if years > OLDEST_AGE else str(years)
