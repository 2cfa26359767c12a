"""Made-up printed names, streets, towns and banks for the printed blocks (no real people or institutions)."""

from __future__ import annotations

import numpy as np

FIRST = ["JAMES", "MARY", "ROBERT", "LINDA", "DAVID", "SUSAN", "CARLOS", "ANA", "PRIYA", "WEI", "FATIMA", "JOHN",
         "GRACE", "OMAR", "ELENA", "SAMUEL", "NORA", "LUIS", "HANNAH", "PETER"]  # fmt: skip
LAST = ["MILLER", "GARCIA", "NGUYEN", "JOHNSON", "PATEL", "SMITH", "KOWALSKI", "OKAFOR", "RIVERA", "CHEN", "BROWN",
        "DUBOIS", "HANSEN", "MORALES", "TANAKA", "WILLIAMS", "ROSSI", "CLARK"]  # fmt: skip
STREETS = ["MAPLE AVE", "OAK ST", "LAKEVIEW DR", "2ND ST", "MAIN ST", "CEDAR LN", "PARK BLVD", "RIVER RD", "ELM CT",
           "SUNSET WAY", "HILLCREST RD", "WASHINGTON ST", "MILL POND RD", "PINE ST"]  # fmt: skip
TOWNS = [("SPRINGFIELD", "IL"), ("RIVERTON", "WY"), ("FAIRVIEW", "OR"), ("GREENVILLE", "SC"), ("MADISON", "WI"),
         ("CLINTON", "IA"), ("FRANKLIN", "TN"), ("SALEM", "MA"), ("GEORGETOWN", "TX"), ("ARLINGTON", "VA"),
         ("AUBURN", "AL"), ("BRISTOL", "CT"), ("DOVER", "DE"), ("MILFORD", "NH")]  # fmt: skip
BANK_WORDS = [("FIRST", "NATIONAL BANK"), ("CITIZENS", "SAVINGS BANK"), ("PRAIRIE", "STATE BANK"),
              ("HARBOR", "FEDERAL CREDIT UNION"), ("SUMMIT", "TRUST COMPANY"), ("VALLEY", "COMMUNITY BANK"),
              ("LIBERTY", "BANK & TRUST"), ("PIONEER", "SAVINGS")]  # fmt: skip
COMPANIES = ["ACME SUPPLY CO.", "NORTHWIND TRADING LLC", "BLUE RIVER DENTAL", "CORNERSTONE BUILDERS INC.",
             "GREENLEAF LANDSCAPING", "SUMMIT PAYROLL SERVICES", "LAKESIDE PROPERTY MGMT"]  # fmt: skip


def pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def person(rng: np.random.Generator) -> str:
    first, last = pick(rng, FIRST), pick(rng, LAST)
    if rng.random() < 0.3:
        return f"{first} & {pick(rng, FIRST)} {last}"
    return f"{first} {chr(65 + int(rng.integers(26)))}. {last}" if rng.random() < 0.4 else f"{first} {last}"


def street_line(rng: np.random.Generator) -> str:
    line = f"{int(rng.integers(1, 9999))} {pick(rng, STREETS)}"
    if rng.random() < 0.2:
        line += f" APT {int(rng.integers(1, 40))}{chr(65 + int(rng.integers(6)))}"
    return line


def town_line(rng: np.random.Generator, zip_text: str | None = None) -> str:
    town, state = pick(rng, TOWNS)
    zip_text = zip_text or f"{int(rng.integers(501, 99951)):05d}"
    return f"{town}, {state} {zip_text}"


def bank(rng: np.random.Generator) -> tuple[str, str]:
    head, tail = pick(rng, BANK_WORDS)
    town, state = pick(rng, TOWNS)
    return f"{head} {tail}", f"{town.title()}, {state}"
