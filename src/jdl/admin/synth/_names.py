"""Names for synthetic people, drawn from realistic frequency distributions.

Name lists come from Faker's locale data (used as a library, not copied): its en_GB surnames carry
ONS frequencies (the 500 commonest, about 40% of the population); its en_GB forenames are ranked
(ONS), to which a Zipf law by rank gives frequencies. The remaining surname mass is a long tail
of generated surnames, so that common names collide as often as in real registers while rare
ones stay rare. South Asian (en_IN) and Polish (pl_PL) pools serve people of those backgrounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Share of people whose surname is in the en_GB list (the list's own frequencies sum to ~39.5%).
_TAIL_SUFFIXES = (
    "son",
    "ton",
    "ley",
    "well",
    "field",
    "worth",
    "by",
    "ham",
    "ford",
    "er",
    "s",
    "man",
    "wood",
    "dale",
    "more",
    "stone",
    "ridge",
    "combe",
    "hurst",
    "shaw",
    "cliffe",
    "burn",
)
# The generator's own nickname list. The linkage stage keeps its own variant table on purpose:
# a real lab never knows every nickname people use.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy", "Liam", "Willy"),
    "Robert": ("Bob", "Rob", "Robbie", "Bobby", "Bert"),
    "Richard": ("Rich", "Rick", "Dick", "Richie", "Ricky"),
    "James": ("Jim", "Jimmy", "Jamie", "Jay"),
    "John": ("Jack", "Johnny", "Jon"),
    "Michael": ("Mike", "Mick", "Mickey", "Micky"),
    "David": ("Dave", "Davey", "Davy"),
    "Christopher": ("Chris", "Kit", "Topher"),
    "Thomas": ("Tom", "Tommy"),
    "Anthony": ("Tony", "Ant"),
    "Andrew": ("Andy", "Drew"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt", "Matty"),
    "Joseph": ("Joe", "Joey"),
    "Stephen": ("Steve", "Stevie"),
    "Steven": ("Steve", "Stevie"),
    "Edward": ("Ed", "Eddie", "Ted", "Ned"),
    "Benjamin": ("Ben", "Benny"),
    "Samuel": ("Sam", "Sammy"),
    "Alexander": ("Alex", "Sandy", "Xander"),
    "Nicholas": ("Nick", "Nicky"),
    "Jonathan": ("Jon", "Jonny"),
    "Timothy": ("Tim", "Timmy"),
    "Peter": ("Pete",),
    "Patrick": ("Pat", "Paddy"),
    "Charles": ("Charlie", "Chas", "Chuck"),
    "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron", "Ronnie"),
    "Donald": ("Don", "Donnie"),
    "Gerald": ("Gerry", "Jerry"),
    "Lawrence": ("Larry", "Laurie"),
    "Leonard": ("Len", "Lenny"),
    "Terence": ("Terry",),
    "Raymond": ("Ray",),
    "Frederick": ("Fred", "Freddie"),
    "Gregory": ("Greg",),
    "Jeffrey": ("Jeff",),
    "Philip": ("Phil",),
    "Douglas": ("Doug", "Dougie"),
    "Zachary": ("Zach", "Zac"),
    "Nathan": ("Nate",),
    "Jacob": ("Jake",),
    "Joshua": ("Josh",),
    "Callum": ("Cal",),
    "Connor": ("Con",),
    "Elizabeth": ("Liz", "Beth", "Lizzie", "Betty", "Eliza"),
    "Margaret": ("Maggie", "Peggy", "Meg", "Marge"),
    "Catherine": ("Cath", "Kate", "Cathy", "Katie"),
    "Katherine": ("Kate", "Kathy", "Katie", "Kat"),
    "Jennifer": ("Jen", "Jenny"),
    "Rebecca": ("Becky", "Becca"),
    "Samantha": ("Sam", "Sammy"),
    "Victoria": ("Vicky", "Tori"),
    "Alexandra": ("Alex", "Lexi"),
    "Charlotte": ("Charlie", "Lottie"),
    "Deborah": ("Debbie", "Deb"),
    "Susan": ("Sue", "Suzy"),
    "Patricia": ("Pat", "Trish", "Patsy"),
    "Christine": ("Chris", "Chrissie"),
    "Jacqueline": ("Jackie",),
    "Stephanie": ("Steph",),
    "Natalie": ("Nat",),
    "Amanda": ("Mandy",),
    "Gemma": ("Gem",),
    "Abigail": ("Abbie", "Abby"),
    "Danielle": ("Dani",),
    "Nicola": ("Nicky", "Nikki"),
    "Kimberley": ("Kim",),
    "Jessica": ("Jess", "Jessie"),
    "Eleanor": ("Ellie", "Nell"),
    "Josephine": ("Jo", "Josie"),
    "Joanne": ("Jo",),
    "Louise": ("Lou",),
    "Helen": ("Nell",),
}


@dataclass(frozen=True)
class NamePool:
    """Names with sampling probabilities."""

    names: np.ndarray
    probs: np.ndarray

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.names[rng.choice(len(self.names), size=size, p=self.probs)]


def _zipf_pool(names: tuple[str, ...] | list[str], exponent: float = 1.0) -> NamePool:
    unique = list(dict.fromkeys(n for n in names if n and n.isascii()))
    weights = 1.0 / np.arange(1, len(unique) + 1) ** exponent
    return NamePool(np.array(unique, dtype=object), weights / weights.sum())


def _tail_surnames(stems: list[str], rng: np.random.Generator, count: int) -> list[str]:
    """Plausible rare surnames: a stem of a real surname plus a common English ending."""
    combos = {
        stem[:cut] + suffix
        for stem in stems
        for cut in range(3, len(stem))
        for suffix in _TAIL_SUFFIXES
    }
    pool = sorted(combos)
    picked = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    return [pool[i] for i in picked]


@dataclass(frozen=True)
class Names:
    """All pools the generator draws from."""

    forenames: dict[tuple[str, str], NamePool]  # (group, sex) -> pool
    surnames: dict[str, NamePool]  # group -> pool


@lru_cache(maxsize=1)
def name_pools() -> Names:
    """Build the name pools once (deterministically: the tail uses a fixed seed)."""
    from faker.providers.person.en_GB import Provider as GB
    from faker.providers.person.en_IN import Provider as IN
    from faker.providers.person.pl_PL import Provider as PL

    gb_common = dict(GB.last_names)  # name -> percent of population
    common_share = sum(gb_common.values()) / 100.0
    stems = [n for n in gb_common if len(n) >= 4]
    tail = _tail_surnames(stems, np.random.default_rng(7), 25_000)
    tail_w = 1.0 / np.arange(1, len(tail) + 1) ** 0.3
    tail_w = tail_w / tail_w.sum() * (1 - common_share)
    # a rare name must not coincide with a common one
    tail_keep = [i for i, n in enumerate(tail) if n not in gb_common]
    names = list(gb_common) + [tail[i] for i in tail_keep]
    weights = np.array([v / 100.0 for v in gb_common.values()] + list(tail_w[tail_keep]))
    british = NamePool(np.array(names, dtype=object), weights / weights.sum())

    forenames = {
        ("british", "M"): _zipf_pool(GB.first_names_male, 0.5),
        ("british", "F"): _zipf_pool(GB.first_names_female, 0.5),
        ("asian", "M"): _zipf_pool(IN.first_names_male, 0.7),
        ("asian", "F"): _zipf_pool(IN.first_names_female, 0.7),
        ("polish", "M"): _zipf_pool(PL.first_names_male, 0.8),
        ("polish", "F"): _zipf_pool(PL.first_names_female, 0.8),
    }
    polish_surnames = list(PL.unisex_last_names) + list(PL.male_last_names)
    surnames = {
        "british": british,
        "asian": _zipf_pool(IN.last_names, 0.8),
        "polish": _zipf_pool(polish_surnames, 0.6),
    }
    return Names(forenames, surnames)


def sample_names(
    rng: np.random.Generator, sex: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Forenames and surnames for people of the given sex ('M'/'F') and name group."""
    pools = name_pools()
    n = len(sex)
    forename = np.empty(n, dtype=object)
    surname = np.empty(n, dtype=object)
    for g in ("british", "asian", "polish"):
        in_group = group == g
        surname[in_group] = pools.surnames[g].sample(rng, int(in_group.sum()))
        for s in ("M", "F"):
            mask = in_group & (sex == s)
            forename[mask] = pools.forenames[(g, s)].sample(rng, int(mask.sum()))
    return forename, surname


# Given names besides the forename. Ancestry UK's 2013 survey of parents (reported by
# Ancestry's blog and the UK press, e.g. HuffPost UK 14/08/2014): 80% of children born now are
# given a middle name and 11% two or more, against 37% in the 1911 census. The register's
# people were born 1945-2007, between the two, and the survey's children are today's, so we
# take less: 75% have a middle name, 8% two (no published share for people with convictions
# or by birth cohort; our judgement). Three or more are left out (rare, and linkage treats
# the third like the second).
MIDDLE_NAME_SHARE = 0.75
TWO_MIDDLE_NAMES_SHARE = 0.08


def sample_middle_names(
    rng: np.random.Generator, sex: np.ndarray, group: np.ndarray, forename: np.ndarray
) -> np.ndarray:
    """Middle names (space-separated; ``None`` for people without) at :data:`MIDDLE_NAME_SHARE`
    and :data:`TWO_MIDDLE_NAMES_SHARE`, drawn from the forename pool of the person's sex and
    name group, never the forename itself nor one another. ``rng`` should be a stream of its
    own: drawing from the stream the other names come from would change every later draw."""
    pools = name_pools()
    n = len(sex)
    u = rng.random(n)
    count = (u < MIDDLE_NAME_SHARE).astype(np.int8) + (u < TWO_MIDDLE_NAMES_SHARE)
    first = _draw_unlike(rng, pools, sex, group, [forename], count >= 1)
    second = _draw_unlike(rng, pools, sex, group, [forename, first], count >= 2)
    out = np.full(n, None, dtype=object)
    out[count >= 1] = first[count >= 1]
    two = (count == 2) & np.array([name is not None for name in second], dtype=bool)
    out[two] = first[two] + " " + second[two]
    return out


def _draw_unlike(rng: np.random.Generator, pools: Names, sex: np.ndarray, group: np.ndarray,
                 avoid: list[np.ndarray], wanted: np.ndarray) -> np.ndarray:
    """A name per ``wanted`` person from their pool, redrawn while it equals one in ``avoid``."""
    out = np.full(len(sex), None, dtype=object)
    todo = wanted.copy()
    for _ in range(50):
        if not todo.any():
            break
        for g in ("british", "asian", "polish"):
            for s in ("M", "F"):
                mask = todo & (group == g) & (sex == s)
                if mask.any():
                    out[mask] = pools.forenames[(g, s)].sample(rng, int(mask.sum()))
        clash = np.zeros(len(sex), bool)
        for names in avoid:
            clash |= out == names
        todo = wanted & clash
    out[todo] = None  # a one-name pool: nothing else to draw (never with the real pools)
    return out
