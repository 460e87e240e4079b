"""An error corruptor for names and dates of birth, written for this benchmark alone.

Written from published descriptions of how names and dates of birth go wrong in real records,
not from the lab's generator (``jdl.admin``) or any other helper's code:

* typing errors: Damerau (1964, *Commun. ACM* 7:171) found about 80% of misspellings are one
  insertion, deletion, substitution or transposition; Christen & Pudjijono (2009, "Accurate
  synthetic generation of realistic personal information", PAKDD; the Febrl/GeCo generator)
  model keyboard (neighbouring key), OCR (look-alike letters) and phonetic (sounds-alike
  spelling) errors separately, and swaps of field values;
* nicknames: Newcombe, Fair & Lalonde (1992, "The use of names for linking personal records",
  *JASA* 87:1193; ANTHONY–TONY, JOSEPH–JOE, WILLIAM–BILL); name-order switches, hyphenated or
  shortened names and women's changed or concatenated surnames: the linkage rules of a US
  injury-mortality study (*Injury Prevention*, Table 3 "Techniques for identifying matched
  records with discrepant names"); double surnames keyed as one or split: Fraser, Kinnear &
  Smith (2018, *IJPDS* 3:4, Utah Population Database);
* dates of birth: Luo et al. (2014, *BMC Bioinformatics* 15:185): 1.5% of birthdates wrong in a
  state-wide health data set, "contamination" concentrated on default dates such as 1 January;
  the same *Injury Prevention* study: conflicting dates of birth are usually close.

Each error type is its own stratum of equal size (so recall per type is measured on enough
rows), not the published overall rates (1.5–2% of records, too few to measure anything). The
nickname and transliteration tables below are this module's own, from general knowledge.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Record = dict[str, object]  # forename, surname, dob (datetime.date)
ABSENT_TWIN = "twin_not_on_register"  # rows of this type are not the register record's person

KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
OCR_CONFUSIONS = (("m", "rn"), ("rn", "m"), ("w", "vv"), ("d", "cl"), ("h", "li"), ("u", "v"),
                  ("v", "u"), ("e", "c"), ("o", "c"), ("i", "l"), ("l", "i"), ("n", "ri"),
                  ("a", "o"), ("g", "q"))
PHONETIC_RULES = (("ph", "f"), ("f", "ph"), ("ck", "k"), ("k", "c"), ("c", "k"), ("ie", "y"),
                  ("y", "ie"), ("ey", "y"), ("ou", "ow"), ("ei", "ie"), ("ie", "ei"),
                  ("son", "sen"), ("sen", "son"), ("th", "t"), ("z", "s"), ("s", "z"),
                  ("ll", "l"), ("tt", "t"), ("nn", "n"), ("mm", "m"), ("ss", "s"), ("ee", "ea"),
                  ("ae", "e"), ("x", "ks"), ("gh", "g"), ("wr", "r"), ("kn", "n"), ("qu", "kw"))
NICKNAMES = {
    "William": ("Bill", "Will", "Billy", "Liam"), "Robert": ("Bob", "Rob", "Bobby", "Robbie"),
    "Richard": ("Dick", "Rick", "Richie"), "Anthony": ("Tony", "Ant"),
    "Joseph": ("Joe", "Joey"), "James": ("Jim", "Jimmy", "Jamie"), "Thomas": ("Tom", "Tommy"),
    "Edward": ("Ed", "Eddie", "Ted", "Ned"), "Charles": ("Charlie", "Chuck", "Chas"),
    "Michael": ("Mike", "Mick", "Mickey"), "Margaret": ("Maggie", "Peggy", "Meg", "Rita"),
    "Elizabeth": ("Liz", "Betty", "Beth", "Lizzie", "Eliza"), "Katherine": ("Kate", "Kathy",
    "Katie", "Kitty"), "Alexander": ("Alex", "Sandy", "Xander"), "Christopher": ("Chris",
    "Kit"), "Daniel": ("Dan", "Danny"), "David": ("Dave", "Davey"), "Stephen": ("Steve",
    "Stevie"), "Nicholas": ("Nick", "Nicky"), "Benjamin": ("Ben", "Benny"), "Samuel": ("Sam",
    "Sammy"), "Matthew": ("Matt",), "Patrick": ("Pat", "Paddy"), "Timothy": ("Tim", "Timmy"),
    "Jennifer": ("Jen", "Jenny"), "Rebecca": ("Becky", "Becca"), "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"), "Victoria": ("Vicky", "Tori"), "Frederick": ("Fred",
    "Freddie"), "Henry": ("Harry", "Hal"), "John": ("Jack", "Johnny"), "Andrew": ("Andy",
    "Drew"), "Jonathan": ("Jon", "Jonny"), "Gerald": ("Gerry",), "Lawrence": ("Larry",),
    "Leonard": ("Len", "Lenny"), "Raymond": ("Ray",), "Ronald": ("Ron", "Ronnie"),
    "Theodore": ("Theo", "Ted"), "Abigail": ("Abby",), "Catherine": ("Cathy", "Cat"),
    "Dorothy": ("Dot", "Dolly"), "Eleanor": ("Ellie", "Nell"), "Mary": ("Molly", "Polly"),
    "Patricia": ("Pat", "Trish", "Patty"), "Sarah": ("Sally",), "Alfred": ("Alf", "Alfie"),
}
# Names as written with their letters, and as an A–Z-only keyboard or system writes them.
TRANSLITERATED = (
    ("Łukasz", "Lukasz"), ("Wójcik", "Wojcik"), ("Zoë", "Zoe"), ("José", "Jose"),
    ("Søren", "Soren"), ("Jürgen", "Juergen"), ("Müller", "Mueller"), ("Björn", "Bjorn"),
    ("Dvořák", "Dvorak"), ("Gómez", "Gomez"), ("Núñez", "Nunez"), ("Şahin", "Sahin"),
    ("Öztürk", "Ozturk"), ("Çelik", "Celik"), ("François", "Francois"), ("Zoltán", "Zoltan"),
    ("Małgorzata", "Malgorzata"), ("Øyvind", "Oyvind"), ("Strauß", "Strauss"),
    ("Ægir", "Aegir"), ("Íñigo", "Inigo"), ("Zdeněk", "Zdenek"), ("Kovačević", "Kovacevic"),
    ("Grzegorz Żak", "Grzegorz Zak"), ("Mäkinen", "Makinen"), ("Héloïse", "Heloise"),
)
# Romanisations of one name (Arabic, Slavic, Chinese, Somali): register uses one, row another.
VARIANTS = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed"), ("Ahmed", "Ahmad"),
    ("Hussain", "Hussein", "Husain"), ("Yusuf", "Yousef", "Youssef"), ("Mustafa", "Mostafa"),
    ("Usman", "Osman", "Othman"), ("Abdul", "Abdel", "Abdool"), ("Aleksandr", "Alexander"),
    ("Sergei", "Sergey"), ("Dmitri", "Dmitry", "Dmitriy"), ("Yuri", "Yury", "Iouri"),
    ("Zhang", "Chang"), ("Xu", "Hsu"), ("Mohamud", "Mahmoud", "Mahmud"), ("Fatima", "Fatma"),
    ("Aisha", "Ayesha", "Aysha"), ("Nikolai", "Nikolay"), ("Oksana", "Aksana"),
)


@dataclass(frozen=True)
class ErrorType:
    """One kind of error: ``apply(rng, original, pool)`` returns ``(register_record,
    submitted_record)`` or None when it cannot apply to this original (e.g. a day/month swap
    of the 13th). Some kinds change the register record too (a double surname, a name with
    accents), so the pair, not only the submitted row, is the unit."""

    name: str
    apply: Callable[[np.random.Generator, Record, dict], tuple[Record, Record] | None]


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def keyboard_typo(rng: np.random.Generator, text: str) -> str:
    """One Damerau-class error: substitute a neighbouring key, insert one, delete, transpose."""
    if len(text) < 3:
        return text + _pick(rng, "aeinorst")
    i = int(rng.integers(1, len(text)))  # first letters are typed more carefully
    kind = _pick(rng, ("sub", "ins", "del", "swap"))
    char = text[i].lower()
    near = _neighbours(char) or "aeiou"
    new = _pick(rng, near)
    if kind == "sub":
        return text[:i] + new + text[i + 1:]
    if kind == "ins":
        return text[:i] + new + text[i:]
    if kind == "del":
        return text[:i] + text[i + 1:]
    if text[i - 1] == text[i]:
        return text[:i] + new + text[i + 1:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def _neighbours(char: str) -> str:
    for r, row in enumerate(KEYBOARD_ROWS):
        c = row.find(char)
        if c >= 0:
            out = row[max(c - 1, 0):c] + row[c + 1:c + 2]
            for other in (r - 1, r + 1):
                if 0 <= other < len(KEYBOARD_ROWS):
                    out += KEYBOARD_ROWS[other][max(c - 1, 0):c + 1]
            return out
    return ""


def _replace_one(rng: np.random.Generator, text: str, rules) -> str | None:
    """Apply one applicable (old, new) rule at one random place (not the first letter for
    OCR/phonetic rules, so the result is not a different initial); None when none applies."""
    lower = text.lower()
    options = [(i, old, new) for old, new in rules
               for i in range(1, len(lower)) if lower.startswith(old, i)]
    if not options:
        return None
    i, old, new = _pick(rng, options)
    return text[:i] + new + text[i + len(old):]


def _name_error(kind: str) -> Callable:
    def apply(rng, rec, pool):
        fields = ["forename", "surname"]
        rng.shuffle(fields)
        for field in fields:
            value = str(rec[field])
            if kind == "keyboard":
                new = keyboard_typo(rng, value)
            elif kind == "ocr":
                new = _replace_one(rng, value, OCR_CONFUSIONS)
            else:
                new = _replace_one(rng, value, PHONETIC_RULES)
            if new and new.lower() != value.lower():
                return rec, {**rec, field: new}
        return None
    return apply


def _swap_names(rng, rec, pool):
    if str(rec["forename"]).lower() == str(rec["surname"]).lower():
        return None
    return rec, {**rec, "forename": rec["surname"], "surname": rec["forename"]}


def _nickname(rng, rec, pool):
    formal = str(rec["forename"]).title()
    if formal not in NICKNAMES:
        formal = _pick(rng, sorted(NICKNAMES))
    original = {**rec, "forename": formal}
    return original, {**rec, "forename": _pick(rng, NICKNAMES[formal])}


def _hyphen_added(rng, rec, pool):
    other = _pick(rng, pool["surnames"])
    if other.lower() == str(rec["surname"]).lower():
        return None
    joined = f"{rec['surname']}-{other}" if rng.random() < 0.5 else f"{other}-{rec['surname']}"
    return rec, {**rec, "surname": joined}


def _hyphen_part(rng, rec, pool):
    other = _pick(rng, pool["surnames"])
    if other.lower() == str(rec["surname"]).lower():
        return None
    sep = "-" if rng.random() < 0.7 else " "
    original = {**rec, "surname": f"{rec['surname']}{sep}{other}"}
    return original, {**rec, "surname": other if rng.random() < 0.5 else rec["surname"]}


def _surname_replaced(rng, rec, pool):
    other = _pick(rng, pool["surnames"])
    if other.lower() == str(rec["surname"]).lower():
        return None
    return rec, {**rec, "surname": other}


def _middle_as_forename(rng, rec, pool):
    middle = _pick(rng, pool["forenames"])
    if middle.lower() == str(rec["forename"]).lower():
        return None
    return {**rec, "forename": f"{rec['forename']} {middle}"}, {**rec, "forename": middle}


def _forename_with_middle(rng, rec, pool):
    middle = _pick(rng, pool["forenames"])
    if middle.lower() == str(rec["forename"]).lower():
        return None
    return rec, {**rec, "forename": f"{rec['forename']} {middle}"}


def _transliteration(rng, rec, pool):
    written, ascii_ = _pick(rng, TRANSLITERATED)
    if " " in written:  # a forename and surname pair
        (wf, ws), (af, as_) = written.split(" "), ascii_.split(" ")
        return {**rec, "forename": wf, "surname": ws}, {**rec, "forename": af, "surname": as_}
    field = "surname" if written[0].isupper() and rng.random() < 0.5 else "forename"
    return {**rec, field: written}, {**rec, field: ascii_}


def _variant(rng, rec, pool):
    group = _pick(rng, VARIANTS)
    first, second = rng.choice(len(group), size=2, replace=False)
    field = "surname" if group[0] in ("Zhang", "Xu", "Hussain") and rng.random() < 0.5 \
        else "forename"
    return {**rec, field: group[first]}, {**rec, field: group[second]}


def strip_accents(text: str) -> str:
    """Accents removed by Unicode decomposition (helper for tests and checks)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _placeholder(rng, rec, pool):
    dob: dt.date = rec["dob"]  # type: ignore[assignment]
    if (dob.month, dob.day) == (1, 1):
        return None
    new = dt.date(dob.year, 1, 1) if rng.random() < 0.7 else dt.date(1900, 1, 1)
    return rec, {**rec, "dob": new}


def _day_month_swap(rng, rec, pool):
    dob: dt.date = rec["dob"]  # type: ignore[assignment]
    if dob.day > 12 or dob.day == dob.month:
        return None
    return rec, {**rec, "dob": dt.date(dob.year, dob.day, dob.month)}


def _digits(count: int) -> Callable:
    """``count`` digits of YYYYMMDD (not the century) replaced, giving a valid other date."""
    def apply(rng, rec, pool):
        dob: dt.date = rec["dob"]  # type: ignore[assignment]
        text = dob.strftime("%Y%m%d")
        for _ in range(50):
            chars = list(text)
            for i in rng.choice(range(2, 8), size=count, replace=False):
                chars[i] = _pick(rng, [d for d in "0123456789" if d != text[i]])
            new = "".join(chars)
            date = _valid(int(new[:4]), int(new[4:6]), int(new[6:]))
            if date is not None and date.year < 2010:
                return rec, {**rec, "dob": date}
        return None
    return apply


def _year_off(step: int) -> Callable:
    def apply(rng, rec, pool):
        dob: dt.date = rec["dob"]  # type: ignore[assignment]
        date = _valid(dob.year + step * (1 if rng.random() < 0.5 else -1), dob.month, dob.day)
        return None if date is None else (rec, {**rec, "dob": date})
    return apply


def _none(rng, rec, pool):
    return rec, dict(rec)


def _twin(rng, rec, pool):
    """A precision probe: the register holds the row's twin (same surname and date of birth,
    another forename), not the row's person. Twins are about 1.5% of UK births (ONS birth
    statistics: some 16 multiple maternities per 1,000), the textbook false match of
    name-and-birth-date linkage."""
    other = _pick(rng, pool["forenames"])
    if other.lower()[:3] == str(rec["forename"]).lower()[:3]:
        return None
    return {**rec, "forename": other}, dict(rec)


ERROR_TYPES: tuple[ErrorType, ...] = (
    ErrorType("none", _none),
    ErrorType("typo_keyboard", _name_error("keyboard")),
    ErrorType("typo_ocr", _name_error("ocr")),
    ErrorType("typo_phonetic", _name_error("phonetic")),
    ErrorType("names_swapped", _swap_names),
    ErrorType("nickname", _nickname),
    ErrorType("surname_hyphen_added", _hyphen_added),
    ErrorType("surname_one_part_of_double", _hyphen_part),
    ErrorType("surname_replaced", _surname_replaced),
    ErrorType("middle_name_as_forename", _middle_as_forename),
    ErrorType("forename_with_middle_name", _forename_with_middle),
    ErrorType("transliteration_accents", _transliteration),
    ErrorType("transliteration_variant", _variant),
    ErrorType("dob_placeholder", _placeholder),
    ErrorType("dob_day_month_swap", _day_month_swap),
    ErrorType("dob_one_digit", _digits(1)),
    ErrorType("dob_two_digits", _digits(2)),
    ErrorType("dob_year_off_1", _year_off(1)),
    ErrorType("dob_decade_off", _year_off(10)),
    ErrorType(ABSENT_TWIN, _twin),
)
# Name and date errors combined (one of each), the harder real case.
NAME_ERRORS = ("typo_keyboard", "typo_phonetic", "names_swapped", "nickname",
               "surname_hyphen_added", "transliteration_variant")
DATE_ERRORS = ("dob_placeholder", "dob_day_month_swap", "dob_one_digit", "dob_year_off_1")


def corrupt(rng: np.random.Generator, bases: list[Record], per_type: int,
            pool: dict) -> list[tuple[Record, Record, str]]:
    """``per_type`` (register record, submitted record, tags) triples per error type and as
    many name+date pairs, each from its own base person (bases are used once, in order)."""
    by_name = {e.name: e for e in ERROR_TYPES}
    out: list[tuple[Record, Record, str]] = []
    next_base = 0

    def take(apply_all: list[ErrorType]) -> tuple[Record, Record] | None:
        nonlocal next_base
        while next_base < len(bases):
            original = bases[next_base]
            next_base += 1
            register, submitted = original, dict(original)
            for error in apply_all:
                result = error.apply(rng, submitted if error is not apply_all[0] else register,
                                     pool)
                if result is None:
                    break
                if error is apply_all[0]:
                    register, submitted = result
                else:
                    submitted = result[1]
            else:
                return register, submitted
        raise ValueError("Not enough base people for the requested strata.")

    for error in ERROR_TYPES:
        for _ in range(per_type):
            register, submitted = take([error])  # type: ignore[misc]
            out.append((register, submitted, "" if error.name == "none" else error.name))
    for _ in range(per_type):
        names = [by_name[_pick(rng, NAME_ERRORS)], by_name[_pick(rng, DATE_ERRORS)]]
        register, submitted = take(names)  # type: ignore[misc]
        out.append((register, submitted, ";".join(e.name for e in names)))
    return out
