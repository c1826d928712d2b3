"""Invoices with planted duplicates: vendor names written twice with typos, amounts and
dates a little off.

Two unlike name generators: ``"words"`` (a surname or two and a trade, "Harper & Mills
Plumbing Ltd") and ``"coined"`` (made-up brand names of syllables, "Zentrova Kalimex").
The copies get one of: a letter replaced, dropped, doubled or swapped with its
neighbour, the case changed, punctuation or spaces added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SURNAMES = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
    "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson "
    "white harris sanchez clark ramirez lewis robinson walker young allen king wright scott "
    "torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter "
    "roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart "
    "morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed "
    "kelly howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray "
    "mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster "
    "jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes "
    "gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham "
    "reynolds griffin wallace moreno west cole hayes bryant herrera gibson ellis tran "
    "medina aguilar stevens murray ford castro marshall owens harrison fernandez mcdonald "
    "woods washington kennedy wells vargas henry chen freeman webb tucker guzman burns "
    "crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz "
    "hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox warren "
    "mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan "
    "gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters "
    "santos hart bradley knight elliott cunningham duncan armstrong hudson carroll lane "
    "riley andrews alvarado ray delgado berry perkins hoffman johnston matthews pena "
    "richards contreras willis carpenter lawrence sandoval"
).split()
TRADES = (
    "plumbing electrical roofing logistics freight consulting catering cleaning security "
    "printing staffing software hardware analytics marketing media design architecture "
    "engineering construction paving landscaping nursery bakery dairy meats produce "
    "seafood beverages brewing coffee office supplies furniture flooring glass metals "
    "steel timber lumber paper packaging plastics chemicals pharmacy medical dental "
    "optical veterinary insurance brokerage finance leasing rentals storage couriers "
    "transport aviation marine automotive tyres towing fuel energy solar power water "
    "waste recycling environmental laboratories testing calibration instruments tools "
    "machinery hydraulics pumps valves fasteners bearings textiles uniforms apparel "
    "footwear jewelry gifts florist events travel hotels translation legal accounting "
    "payroll recruiting training education telecom networks cabling hosting "
    "communications signage displays audio video photography studios pest control "
    "hvac refrigeration elevators locksmiths fencing masonry concrete drywall painting"
).split()
SUFFIXES = ("ltd", "inc", "llc", "co", "corp", "gmbh", "plc", "group", "partners",
            "services", "solutions", "supply", "systems", "international", "holdings")
SYLLABLES = (
    "ka ze tro va li mex qu an dor sel vin ra to bel cor nex ul pri so ta gen ix am ber "
    "fal den wor ly sa mi pol der kin ves tar on el ro bu lu gar hel ni zo ric").split()


def _title(words: np.ndarray) -> np.ndarray:
    return np.char.title(words.astype(str))


def vendor_names(n: int, style: str = "words", seed: int = 0) -> np.ndarray:
    """``n`` distinct vendor names (strings) of one style."""
    rng = np.random.default_rng(seed)
    names: np.ndarray = np.array([], dtype=object)
    while len(names) < n:
        m = 2 * (n - len(names)) + 100
        if style == "words":
            first = _title(rng.choice(SURNAMES, m))
            second = _title(rng.choice(SURNAMES, m))
            pair = rng.random(m) < 0.4
            head = np.where(pair, np.char.add(np.char.add(first, rng.choice(
                [" & ", " and ", " "], m)), second), first)
            trade = _title(rng.choice(TRADES, m))
            suffix = np.char.upper(rng.choice(SUFFIXES, m))
            suffix = np.where(rng.random(m) < 0.5, np.char.title(suffix), suffix)
            tail = np.where(rng.random(m) < 0.8, np.char.add(" ", suffix), "")
            made = np.char.add(np.char.add(np.char.add(head, " "), trade), tail)
        elif style == "coined":
            k = rng.integers(2, 5, m)
            parts = rng.choice(SYLLABLES, (m, 4))
            word = np.where(k > 2, np.char.add(parts[:, 0], parts[:, 1]), parts[:, 0])
            word = np.char.add(word, np.where(k > 3, parts[:, 2], ""))
            word = np.char.add(word, parts[:, 3])
            other = np.char.add(rng.choice(SYLLABLES, m), rng.choice(SYLLABLES, m))
            made = np.char.add(_title(word), np.where(rng.random(m) < 0.6, np.char.add(
                " ", _title(np.where(rng.random(m) < 0.5, other, rng.choice(TRADES, m)))), ""))
        else:
            raise ValueError(style)
        names = pd.unique(np.concatenate([names, made.astype(object)]))
    return np.asarray(names[:n], dtype=object)


def typo(name: str, rng: np.random.Generator) -> str:
    """``name`` written again with one slip: a letter replaced, dropped, doubled or swapped,
    the case changed, or punctuation and spaces added."""
    kind = rng.choice(["replace", "drop", "double", "swap", "case", "punct"],
                      p=[0.2, 0.2, 0.15, 0.25, 0.1, 0.1])
    letters = [k for k, c in enumerate(name) if c.isalpha()]
    k = int(rng.choice(letters))
    if kind == "replace":
        c = name[k].lower()
        new = "abcdefghijklmnopqrstuvwxyz"[(ord(c) - 96 + int(rng.integers(1, 25))) % 26]
        return name[:k] + (new.upper() if name[k].isupper() else new) + name[k + 1:]
    if kind == "drop":
        return name[:k] + name[k + 1:]
    if kind == "double":
        return name[:k] + name[k] + name[k:]
    if kind == "swap":
        k = min(k, len(name) - 2)
        return name[:k] + name[k + 1] + name[k] + name[k + 2:]
    if kind == "case":
        return name.upper() if rng.random() < 0.5 else name.lower()
    words = name.split(" ")
    return " ".join(words[:-1]) + ",  " + words[-1] + "." if len(words) > 1 else name + "."


def invoices(n: int, dups: int, style: str = "words", seed: int = 0) -> tuple[
        pd.DataFrame, np.ndarray]:
    """``n`` invoices of distinct vendors plus ``dups`` copies of some of them.

    A copy keeps the invoice number, has its vendor name retyped (:func:`typo`), its
    amount off by at most a cent and its date by at most two days. Returns the table
    (shuffled, ``transaction_id`` unique) and the planted pairs as ``(k, 2)`` positions
    into it.
    """
    rng = np.random.default_rng(seed)
    vendor = vendor_names(n, style, seed)
    # amounts far enough apart that two invoices never fall within a cent or 1%
    cents = np.sort(rng.choice(np.arange(1_000, 1_000 + 200 * n, 100), n, replace=False))
    cents = rng.permutation(cents) + rng.integers(0, 50, n)
    day = rng.integers(0, 3 * 365, n)
    src = rng.choice(n, dups, replace=False)
    copy_vendor = np.array([typo(vendor[i], rng) for i in src], dtype=object)
    all_vendor = np.concatenate([vendor, copy_vendor])
    all_cents = np.concatenate([cents, cents[src] + rng.integers(-1, 2, dups)])
    all_day = np.concatenate([day, day[src] + rng.integers(-2, 3, dups)])
    invoice = np.concatenate([np.arange(n), src])
    order = rng.permutation(n + dups)
    where = np.empty_like(order)
    where[order] = np.arange(n + dups)
    df = pd.DataFrame({
        "transaction_id": [f"T{i:07d}" for i in range(n + dups)],
        "invoice_no": [f"INV-{i:07d}" for i in invoice[order]],
        "vendor": all_vendor[order],
        "amount": all_cents[order] / 100,
        "date": (pd.Timestamp("2023-01-01") + pd.to_timedelta(all_day[order], "D")),
    })
    pairs = np.stack([where[src], where[n + np.arange(dups)]], 1)
    return df, np.sort(pairs, axis=1)
