"""Deterministic generator for CLEAR Studio's demo and benchmark datasets.

Writes four small fine-tuning datasets, each in a different common shape, with about 20%
of the examples carrying a planted error, plus a labels file per dataset that names the
errors and gives the correct response for every example:

* ``support_intents.jsonl``   OpenAI chat shape: classify a support ticket into JSON.
* ``passage_qa.jsonl``        Alpaca shape: answer a question with a span of a passage.
* ``math_word_problems.json`` ShareGPT shape (a JSON array): short worked arithmetic.
* ``open_chat.csv``           flat CSV (id,prompt,response): short factual requests.

Labels (``<stem>.labels.jsonl``, one line per example, in file order)::

    {"id": ..., "is_error": bool, "kind": null | "swapped" | "truncated" | "wrong_value"
     | "broken_format" | "empty_or_irrelevant", "clean_response": <the correct response>}

(math labels also carry ``"answer"``, the integer the clean solution ends with).

Everything here was written for this project: the passages, people and places are
fictional, the facts in ``open_chat`` are common knowledge written out by hand. Pure
standard library; a fixed seed makes every run byte-identical.

Usage: ``python sample_data/generate.py [OUTPUT_DIR]`` (default: this file's folder).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

SEED = 20240611
ERROR_RATE = 0.20
KINDS = ("swapped", "truncated", "wrong_value", "broken_format", "empty_or_irrelevant")

N_INTENTS = 160
N_QA = 150
N_MATH = 150
N_CHAT = 150

# Unrelated sentences used for the "empty_or_irrelevant" kind (responses must never be
# empty strings, since a strict importer rejects them).
IRRELEVANT = (
    "The museum gift shop closes early on public holidays.",
    "Remember to water the ferns twice a week during the summer.",
    "Our team picnic has been moved to the lakeside pavilion.",
    "Lighthouses were once lit with oil lamps and large lenses.",
    "Please bring a reusable bag when you visit the farmers market.",
    "The chess club meets every Thursday evening in the old library.",
    "Fresh basil keeps longer if you stand it in a glass of water.",
    "The parade route follows the old tram line through the town center.",
    "Knitting a scarf usually takes a beginner about a week.",
    "The orchestra tunes to a single note before the concert begins.",
    "Pottery glaze changes color dramatically inside the kiln.",
    "Migrating geese often fly in a V shape to save energy.",
    "I really enjoyed the new season of that cooking show.",
    "Sunflowers turn to follow the sun while they are young.",
)

FIRST_NAMES = (
    "Marta",
    "Jonas",
    "Amara",
    "Tomasz",
    "Leila",
    "Owen",
    "Priya",
    "Mateo",
    "Ingrid",
    "Kofi",
    "Sofia",
    "Hamid",
    "Elena",
    "Ravi",
    "Noor",
    "Felix",
    "Yuki",
    "Carmen",
    "Dmitri",
    "Aisha",
    "Lucas",
    "Hana",
    "Bruno",
    "Zara",
    "Emil",
    "Nadia",
    "Tariq",
    "Greta",
    "Samir",
    "Lena",
)
SURNAMES = (
    "Okonkwo",
    "Lindqvist",
    "Marchetti",
    "Halvorsen",
    "Abernathy",
    "Castellano",
    "Nakamura",
    "Whitcombe",
    "Oyelaran",
    "Petrescu",
    "Dunmore",
    "Farrant",
    "Kowalczyk",
    "Ashdown",
    "Varga",
    "Quennell",
    "Brightwater",
    "Sandoval",
    "Thorncroft",
    "Mbeki",
    "Ellory",
    "Radcliffe",
    "Ostrander",
    "Pellegrini",
    "Hartigan",
    "Volkova",
    "Ambrose",
    "Cardell",
)
TOWNS = (
    "Arlow",
    "Brennick",
    "Caldmoor",
    "Dunmere",
    "Fallowby",
    "Greyhollow",
    "Harwick",
    "Ivelton",
    "Kestermoor",
    "Lanfield",
    "Marrowgate",
    "Netherby",
    "Orrin",
    "Pellham",
    "Quillmore",
    "Rosslyn Cove",
    "Stennet",
    "Thistlebury",
    "Upcott",
    "Wendover Hythe",
)


# --------------------------------------------------------------------------- helpers


def plan_errors(rng: random.Random, n: int, eligible: Callable[[str, int], bool]) -> dict[int, str]:
    """Choose round(n * ERROR_RATE) indices and give each a kind, cycling through KINDS.

    ``eligible(kind, index)`` says whether that example can carry that kind (a one-word
    answer cannot be meaningfully truncated, for instance).
    """
    n_errors = round(n * ERROR_RATE)
    order = list(range(n))
    rng.shuffle(order)
    plan: dict[int, str] = {}
    k = 0
    while len(plan) < n_errors:
        kind = KINDS[k % len(KINDS)]
        k += 1
        for idx in order:
            if idx not in plan and eligible(kind, idx):
                plan[idx] = kind
                break
        else:  # pragma: no cover - the datasets always have enough candidates
            raise RuntimeError(f"no example can carry {kind!r}")
    return plan


def truncate(rng: random.Random, text: str, lo: float = 0.35, hi: float = 0.7) -> str:
    """Cut ``text`` somewhere between ``lo`` and ``hi`` of its length, mid-word if possible."""
    n = len(text)
    candidates = [
        i
        for i in range(max(1, int(n * lo)), max(2, int(n * hi)) + 1)
        if i < n and text[i - 1].isalnum() and text[i].isalnum()
    ]
    if not candidates:
        candidates = [i for i in range(max(1, int(n * lo)), max(2, int(n * hi)) + 1) if i < n]
    cut = rng.choice(candidates)
    out = text[:cut].rstrip()
    assert out and out != text and text.startswith(out)
    return out


def pick_other(rng: random.Random, n: int, i: int, ok: Callable[[int], bool]) -> int:
    """A random index other than ``i`` that satisfies ``ok``."""
    for _ in range(10_000):
        j = rng.randrange(n)
        if j != i and ok(j):
            return j
    raise RuntimeError("no partner found")  # pragma: no cover


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def two_people(rng: random.Random) -> tuple[str, str]:
    """Two names sharing neither first name nor surname (so answers stay unambiguous)."""
    first = rng.sample(FIRST_NAMES, 2)
    last = rng.sample(SURNAMES, 2)
    return f"{first[0]} {last[0]}", f"{first[1]} {last[1]}"


def label(ex_id: str, kind: str | None, clean: str, **extra) -> dict:
    return {"id": ex_id, "is_error": kind is not None, "kind": kind, "clean_response": clean, **extra}


# --------------------------------------------------------------------------- support intents

INTENTS = (
    "refund_request",
    "order_status",
    "cancel_subscription",
    "technical_issue",
    "billing_question",
    "account_access",
    "shipping_address_change",
    "product_inquiry",
)

INTENT_SYSTEM = (
    "You are a support ticket classifier. Read the customer's message and reply with JSON "
    'only, in the form {"intent": <intent>, "urgency": <urgency>}.\n'
    "Allowed intents:\n"
    "- refund_request: wants money back for a purchase\n"
    "- order_status: asks where an order is or when it will arrive\n"
    "- cancel_subscription: wants to end a subscription or membership\n"
    "- technical_issue: the app or website is not working properly\n"
    "- billing_question: asks about a charge, an invoice or how they pay\n"
    "- account_access: cannot log in or get into their account\n"
    "- shipping_address_change: wants an order delivered to a different address\n"
    "- product_inquiry: asks about a product before buying it\n"
    'Urgency: "high" if the customer says it is urgent or must be handled today, '
    '"low" if they say there is no rush or it is not urgent, otherwise "medium".'
)

PRODUCTS = (
    "wireless earbuds",
    "standing desk",
    "espresso machine",
    "hiking backpack",
    "smart thermostat",
    "yoga mat",
    "bluetooth speaker",
    "air fryer",
    "office chair",
    "electric kettle",
    "desk lamp",
    "running shoes",
    "winter jacket",
    "blender",
    "robot vacuum",
    "camping tent",
)
DEFECTS = (
    "stopped working after two days",
    "arrived with a cracked lid",
    "is missing two parts",
    "does not match the description on your site",
    "arrived in the wrong color",
    "makes a loud rattling noise",
    "arrived damaged",
    "is a size too small",
)
PLANS = ("Premium", "Family", "Pro", "Basic", "Team", "Student", "Plus")
DEVICES = ("iPhone", "Android phone", "Windows laptop", "MacBook", "iPad", "Chromebook")
ACTIONS = (
    "upload a photo",
    "open the settings page",
    "export a report",
    "sync my calendar",
    "play a video",
    "search for a file",
    "add an item to my cart",
    "print a receipt",
)
ERRORS_SHOWN = ("Something went wrong", "Error 503", "Request timed out", "Unknown error")
FEATURES = ("dashboard", "order history", "messages", "reports")
MONTHS = (
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
COLORS = ("navy blue", "forest green", "charcoal gray", "white", "red", "sand beige")
COMPAT = (
    "Android phones",
    "older iPhones",
    "Windows 10",
    "a 220-volt outlet",
    "Alexa",
    "a standard car charger",
)
STREETS = ("Fenwick", "Alder", "Copper", "Marsh", "Quarry", "Willow", "Harbor", "Linden", "Orchard")

HIGH_CUES = (
    "This is urgent.",
    "I need this resolved today.",
    "Please help, this is urgent!",
    "It's urgent, I need an answer today.",
    "Urgent: please reply today.",
)
LOW_CUES = (
    "No rush on this.",
    "No hurry, whenever you get a chance.",
    "This isn't urgent.",
    "There's no rush at all.",
)


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"


def _amount(rng: random.Random) -> str:
    return f"${rng.randint(5, 240)}.{rng.choice(('00', '49', '99', '95', '50'))}"


def _address(rng: random.Random) -> str:
    number, street = rng.randint(2, 980), rng.choice(STREETS)
    kind = rng.choice(("Street", "Avenue", "Lane", "Road"))
    return f"{number} {street} {kind}, {rng.choice(TOWNS)}"


def _order(rng: random.Random) -> str:
    return str(rng.randint(100000, 999999))


def intent_body(rng: random.Random, intent: str, name: str) -> str:
    p, d = rng.choice(PRODUCTS), rng.choice(DEFECTS)
    o, dt, amt = _order(rng), _date(rng), _amount(rng)
    plan, dev, act = rng.choice(PLANS), rng.choice(DEVICES), rng.choice(ACTIONS)
    email = f"{name.split()[0].lower()}.{name.split()[1].lower()}@example.com"
    month, color, addr = rng.choice(MONTHS), rng.choice(COLORS), _address(rng)
    options = {
        "refund_request": (
            f"I'd like a refund for the {p} I ordered on {dt}. It {d}.",
            f"The {p} from order #{o} {d}, so I want my money back.",
            f"Can I get a refund on my {p}? It {d} and I don't want a replacement.",
            f"I sent the {p} back on {dt} but still haven't received my refund of {amt}.",
            f"Please refund the {amt} I paid for the {p}. It {d}.",
        ),
        "order_status": (
            f"Where is my order #{o}? It was supposed to arrive on {dt}.",
            f"Can you tell me the status of order #{o}? The tracking page hasn't updated since {dt}.",
            f"I ordered a {p} on {dt} and haven't had any shipping update. Has it shipped yet?",
            f"The tracking for order #{o} has shown no movement for {rng.randint(3, 9)} days. Where is my package?",
            f"When will my {p} (order #{o}) be delivered?",
        ),
        "cancel_subscription": (
            f"Please cancel my {plan} subscription before it renews on {dt}.",
            f"I want to cancel my {plan} plan. I don't use the service anymore.",
            f"How do I cancel my subscription? I'm on the {plan} plan and don't want it to renew.",
            f"Please end my {plan} membership at the end of this billing period.",
            f"I'd like to stop my {plan} subscription, it's too expensive for me now.",
        ),
        "technical_issue": (
            f"The app crashes every time I try to {act} on my {dev}.",
            f"When I {act} on my {dev}, I get an error that says '{rng.choice(ERRORS_SHOWN)}'.",
            f"The {rng.choice(FEATURES)} page won't load on my {dev}; it just shows a blank screen.",
            f"Since the latest update I can't {act} on my {dev}. The button does nothing.",
            f"Your website freezes whenever I {act}. I've tried two browsers on my {dev}.",
        ),
        "billing_question": (
            f"Can you explain the {amt} charge on my {month} invoice?",
            f"Why did my monthly bill go up to {amt} in {month}?",
            f"I need a copy of my {month} invoice for my expense report.",
            f"How do I update the credit card used for my {plan} plan payments?",
            f"Is sales tax included in the {amt} I was billed in {month}?",
        ),
        "account_access": (
            "I can't log in to my account. It says my password is wrong even after I reset it.",
            f"I'm not receiving the password reset email at {email}.",
            "My account was locked after too many login attempts. Can you unlock it?",
            f"I lost my {dev} and can't get the two-factor code to sign in to my account.",
            f"I changed my account email to {email} and now I can't sign in at all.",
            f"I forgot my username, and the recovery form says no account matches {email}.",
            "Someone changed my password and I can no longer get into my account.",
            f"The sign-in page on my {dev} keeps rejecting my password, but I know it's right.",
        ),
        "shipping_address_change": (
            f"I need to change the delivery address for order #{o} to {addr}.",
            f"I moved last week. Can you ship order #{o} to {addr} instead?",
            f"I typed the wrong street on order #{o}. The correct address is {addr}.",
            f"Please update the shipping address on my {p} order to {addr}.",
            f"Can the {p} in order #{o} be delivered to my office at {addr} instead of my home?",
        ),
        "product_inquiry": (
            f"Does the {p} come in {color}?",
            f"Is the {p} compatible with {rng.choice(COMPAT)}?",
            f"What is the warranty period for the {p}?",
            f"How much does the {p} weigh? I'm thinking of buying one.",
            f"Do you plan to restock the {p} in {color}?",
        ),
    }[intent]
    return rng.choice(options)


def intent_message(rng: random.Random, intent: str, urgency: str, channel: str) -> str:
    name = person(rng)
    body = intent_body(rng, intent, name)
    cue = {"high": rng.choice(HIGH_CUES), "low": rng.choice(LOW_CUES), "medium": ""}[urgency]
    core = f"{cue} {body}" if cue and rng.random() < 0.4 else f"{body} {cue}".strip()
    if channel == "email":
        opener = rng.choice(("Hi team,", "Hello,", "Dear Support,", "Good afternoon,", "Hi there,"))
        first = name.split()[0]
        signoff = rng.choice((f"Thanks,\n{first}", f"Best regards,\n{name}", f"Cheers,\n{first}", name))
        return f"{opener}\n\n{core}\n\n{signoff}"
    opener = rng.choice(("Hi!", "Hello!", "Hey there!", "", "Hi there."))
    return f"{opener} {core}".strip()


def intent_json(intent: str, urgency: str) -> str:
    return json.dumps({"intent": intent, "urgency": urgency})


def build_support_intents(rng: random.Random) -> tuple[list[dict], list[dict]]:
    n = N_INTENTS
    intents = [INTENTS[i % len(INTENTS)] for i in range(n)]
    rng.shuffle(intents)
    rows = []
    seen: set[str] = set()
    for i in range(n):
        urgency = rng.choices(("high", "medium", "low"), weights=(3, 4, 3))[0]
        channel = rng.choice(("email", "chat"))
        while True:
            msg = intent_message(rng, intents[i], urgency, channel)
            if msg not in seen:
                seen.add(msg)
                break
        rows.append({"intent": intents[i], "urgency": urgency, "channel": channel, "msg": msg})

    plan = plan_errors(rng, n, lambda kind, i: True)
    records, labels = [], []
    for i, r in enumerate(rows):
        ex_id = f"intent-{i + 1:04d}"
        clean = intent_json(r["intent"], r["urgency"])
        kind = plan.get(i)
        resp = clean
        if kind == "swapped":
            j = pick_other(rng, n, i, lambda j, r=r: rows[j]["intent"] != r["intent"])
            resp = intent_json(rows[j]["intent"], rows[j]["urgency"])
        elif kind == "truncated":
            resp = truncate(rng, clean)
        elif kind == "wrong_value":
            wrong = rng.choice([x for x in INTENTS if x != r["intent"]])
            resp = intent_json(wrong, r["urgency"])
        elif kind == "broken_format":
            it, ur = r["intent"], r["urgency"]
            resp = rng.choice(
                (
                    f"{{'intent': '{it}', 'urgency': '{ur}'}}",
                    f"intent: {it}, urgency: {ur}",
                    f'{{"intent": "{it}", "urgency": "{ur}",}}',
                    f'{{"intent": {it}, "urgency": {ur}}}',
                    f"The intent is {it} and the urgency is {ur}.",
                )
            )
        elif kind == "empty_or_irrelevant":
            resp = rng.choice(IRRELEVANT)
        records.append(
            {
                "id": ex_id,
                "messages": [
                    {"role": "system", "content": INTENT_SYSTEM},
                    {"role": "user", "content": r["msg"]},
                    {"role": "assistant", "content": resp},
                ],
                "meta": {"channel": r["channel"]},
            }
        )
        labels.append(label(ex_id, kind, clean))
    return records, labels


# --------------------------------------------------------------------------- passage QA

QA_INSTRUCTION = "Answer the question using only the passage. Reply with the exact span."

ACTIVITIES = ("Rowing", "Chess", "Cycling", "Astronomy", "Choir", "Gardening", "Photography", "Kite")
BUILDINGS = ("warehouse", "church hall", "barn", "schoolhouse", "railway shed", "mill")
EVENTS = ("summer festival", "autumn open day", "winter showcase", "spring tournament", "harvest fair")
RIVERS = ("Tesk", "Varrow", "Ombel", "Linnet", "Caddow", "Sorrel", "Brisk", "Marle", "Fenna")
BRIDGE_NAMES = ("Harrow", "Copperleaf", "Saint Elin", "Morrow", "Greystone", "Kingsmere", "Ashby")
MOUNTAINS = ("Ketter", "Solvane", "Ardry", "Halloway", "Brannoch", "Velmar", "Corrin")
PLANTS = ("orchid", "fern", "moss", "lily", "violet", "thistle", "saxifrage")
GENERA = ("Velmora", "Calyxa", "Dorvina", "Pellaria", "Thessia", "Orvella")
SEASONS = ("spring", "summer", "autumn")
SHOPS = (
    "The Golden Crust",
    "The Rolling Pin",
    "The Copper Oven",
    "Morning Loaf",
    "The Little Hearth",
    "Flour and Fern",
)
PASTRIES = (
    "cardamom bun",
    "rye sourdough",
    "apple turnover",
    "cheese scone",
    "honey loaf",
    "almond croissant",
    "cinnamon twist",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Sunday")
EXPEDITION_REGIONS = ("Northern Ice", "Sable Coast", "Glass Lakes", "Ember Islands", "Pale Steppe")
FEATURES_GEO = (
    "frozen fjords of the west coast",
    "chain of salt marshes",
    "eastern glacier",
    "string of volcanic islands",
    "southern river delta",
)
SHIPS = ("Marigold", "Albatross", "Kestrel", "Silver Tern", "Wayfarer", "Lodestar")
SAMPLES = ("rare lichen", "volcanic glass", "deep-sea mud", "red seaweed", "ancient ice")
PROGRAMS = ("story hour for children", "chess evening", "poetry reading", "language exchange", "film night")


def _passage_club(rng: random.Random):
    p1, p2 = two_people(rng)
    town, act = rng.choice(TOWNS), rng.choice(ACTIVITIES)
    y1 = rng.randint(1890, 1975)
    y2 = y1 + rng.randint(12, 45)
    n1, n2 = rng.randint(8, 40), rng.randint(110, 900)
    street, building, event = rng.choice(STREETS), rng.choice(BUILDINGS), rng.choice(EVENTS)
    passage = (
        f"{p1} founded the {town} {act} Club in {y1}. The club began with {n1} members, who met "
        f"in a converted {building} on {street} Street. The first club secretary was {p2}. "
        f"By {y2} membership had grown to {n2}, and the club's {event} now draws visitors from "
        f"across the region."
    )
    qa = {
        "founder": (f"Who founded the {town} {act} Club?", p1, "secretary"),
        "secretary": ("Who was the first club secretary?", p2, "founder"),
        "y1": ("In what year was the club founded?", str(y1), "y2"),
        "n1": ("How many members did the club begin with?", str(n1), "n2"),
        "n2": (f"How many members did the club have by {y2}?", str(n2), "n1"),
        "street": ("On which street did the first members meet?", f"{street} Street", "event"),
        "event": ("Which club event now draws visitors from across the region?", event, "street"),
        "y2": ("By what year had membership grown to " + str(n2) + "?", str(y2), "y1"),
    }
    return passage, qa


def _passage_bridge(rng: random.Random):
    p1, p2 = two_people(rng)
    name, river, village = rng.choice(BRIDGE_NAMES), rng.choice(RIVERS), rng.choice(TOWNS)
    year = rng.randint(1850, 1995)
    length, traffic = rng.randint(60, 950), rng.randint(11, 90) * 100
    passage = (
        f"The {name} Bridge crosses the {river} River near the village of {village}. It was "
        f"designed by the engineer {p1} and opened to traffic in {year}. The bridge is {length} "
        f"meters long and carries about {traffic} vehicles a day. Before it was built, travelers "
        f"crossed on a ferry run by {p2}."
    )
    qa = {
        "river": (f"Which river does the {name} Bridge cross?", f"{river} River", "village"),
        "village": ("Near which village is the bridge?", village, "river"),
        "designer": ("Who designed the bridge?", p1, "ferry"),
        "ferry": ("Who ran the ferry before the bridge was built?", p2, "designer"),
        "year": ("In what year did the bridge open to traffic?", str(year), "length"),
        "length": ("How long is the bridge?", f"{length} meters", "traffic"),
        "traffic": ("About how many vehicles cross the bridge each day?", str(traffic), "year"),
    }
    return passage, qa


def _passage_botany(rng: random.Random):
    p1, mentor = two_people(rng)
    surname = p1.split()[1]
    year, plant, mountain = rng.randint(1870, 2015), rng.choice(PLANTS), rng.choice(MOUNTAINS)
    latin = f"{rng.choice(GENERA)} {mountain.lower()}ensis"
    alt, days, season = rng.randint(12, 38) * 100, rng.randint(5, 30), rng.choice(SEASONS)
    passage = (
        f"In {year}, the botanist {p1} discovered a new species of {plant} on the slopes of "
        f"Mount {mountain}. {surname} named it {latin} in honor of a former teacher, {mentor}. "
        f"The plant grows only above {alt} meters and flowers for about {days} days each {season}."
    )
    qa = {
        "discoverer": (f"Who discovered the new species of {plant}?", p1, "mentor"),
        "mentor": ("In whose honor was the species named?", mentor, "discoverer"),
        "year": ("In what year was the species discovered?", str(year), "alt"),
        "mountain": ("On which mountain was the species found?", f"Mount {mountain}", "latin"),
        "latin": ("What name was the new species given?", latin, "mountain"),
        "alt": ("Above what altitude does the plant grow?", f"{alt} meters", "days"),
        "days": ("For about how many days does the plant flower?", str(days), "year"),
        "season": ("In which season does the plant flower?", season, "plant"),
        "plant": ("What kind of plant was discovered?", plant, "season"),
    }
    return passage, qa


def _passage_bakery(rng: random.Random):
    p1, p2 = two_people(rng)
    shop, street, town = rng.choice(SHOPS), rng.choice(STREETS), rng.choice(TOWNS)
    year, pastry = rng.randint(1920, 2018), rng.choice(PASTRIES)
    n, staff, weekday = rng.randint(60, 450), rng.randint(3, 25), rng.choice(WEEKDAYS)
    passage = (
        f"{shop} is a bakery on {street} Road in {town}. It was opened by {p1} in {year} and is "
        f"now run by {p2}. Its best-selling item is the {pastry}, which sells about {n} a day. "
        f"The bakery employs {staff} people and is closed every {weekday}."
    )
    qa = {
        "street": (f"On which road is {shop}?", f"{street} Road", "town"),
        "town": ("In which town is the bakery?", town, "street"),
        "opener": ("Who opened the bakery?", p1, "runner"),
        "runner": ("Who runs the bakery now?", p2, "opener"),
        "year": ("In what year did the bakery open?", str(year), "n"),
        "pastry": ("What is the bakery's best-selling item?", pastry, "weekday"),
        "n": ("About how many of the best-selling item are sold each day?", str(n), "staff"),
        "staff": ("How many people does the bakery employ?", str(staff), "n"),
        "weekday": ("On which day is the bakery closed?", weekday, "pastry"),
    }
    return passage, qa


def _passage_expedition(rng: random.Random):
    p1 = person(rng)
    year, region, town = rng.randint(1840, 1990), rng.choice(EXPEDITION_REGIONS), rng.choice(TOWNS)
    n, month, days = rng.randint(6, 40), rng.choice(MONTHS), rng.randint(45, 400)
    feature, ship, sample = rng.choice(FEATURES_GEO), rng.choice(SHIPS), rng.choice(SAMPLES)
    passage = (
        f"The {year} {region} Expedition was led by {p1}. A team of {n} explorers left {town} in "
        f"{month} and spent {days} days mapping the {feature}. Their ship, the {ship}, returned "
        f"with samples of {sample}."
    )
    qa = {
        "leader": (f"Who led the {region} Expedition?", p1, "ship"),
        "n": ("How many explorers were in the team?", str(n), "days"),
        "town": ("From which town did the team leave?", town, "ship"),
        "month": ("In which month did the team leave?", month, "town"),
        "days": ("How many days did the team spend mapping?", str(days), "n"),
        "ship": ("What was the name of the expedition's ship?", ship, "town"),
        "sample": ("What did the ship bring back samples of?", sample, "feature"),
        "feature": ("What did the team spend its time mapping?", feature, "sample"),
    }
    return passage, qa


def _passage_library(rng: random.Random):
    p1, donor = two_people(rng)
    town, year = rng.choice(TOWNS), rng.randint(1880, 1960)
    year2 = year + rng.randint(15, 60)
    n, n2 = rng.randint(8, 60) * 100, rng.randint(61, 250) * 100
    program = rng.choice(PROGRAMS)
    passage = (
        f"The {town} Public Library opened in {year} with a collection of {n} books. Its first "
        f"librarian, {p1}, started a weekly {program} that still runs today. In {year2}, a new "
        f"wing named after the donor {donor} added room for {n2} more books."
    )
    qa = {
        "year": (f"In what year did the {town} Public Library open?", str(year), "year2"),
        "n": ("How many books did the library open with?", str(n), "n2"),
        "librarian": ("Who was the library's first librarian?", p1, "donor"),
        "program": ("What weekly event did the first librarian start?", program, "donor"),
        "year2": ("In what year was the new wing added?", str(year2), "year"),
        "donor": ("After whom is the new wing named?", donor, "librarian"),
        "n2": ("How many more books did the new wing make room for?", str(n2), "n"),
    }
    return passage, qa


PASSAGE_BUILDERS = (
    _passage_club,
    _passage_bridge,
    _passage_botany,
    _passage_bakery,
    _passage_expedition,
    _passage_library,
)


def _spans_unique(passage: str, qa: dict) -> bool:
    spans = [a for _, a, _ in qa.values()]
    return (
        len(set(spans)) == len(spans)
        and all(passage.count(s) == 1 for s in spans)
        and all(s1 == s2 or s1 not in s2 for s1 in spans for s2 in spans)
    )


def _truncatable(span: str) -> bool:
    return " " in span and len(span) >= 8


def build_passage_qa(rng: random.Random) -> tuple[list[dict], list[dict]]:
    n = N_QA
    rows = []
    for i in range(n):
        builder = PASSAGE_BUILDERS[i % len(PASSAGE_BUILDERS)]
        while True:
            passage, qa = builder(rng)
            if _spans_unique(passage, qa):
                break
        key = rng.choice(sorted(qa))
        question, answer, distractor_key = qa[key]
        rows.append({"passage": passage, "question": question, "answer": answer, "distractor": qa[distractor_key][1]})
    order = list(range(n))
    rng.shuffle(order)  # mix the passage kinds
    rows = [rows[k] for k in order]

    plan = plan_errors(rng, n, lambda kind, i: kind != "truncated" or _truncatable(rows[i]["answer"]))
    records, labels = [], []
    for i, r in enumerate(rows):
        ex_id = f"qa-{i + 1:04d}"
        clean, kind = r["answer"], plan.get(i)
        resp = clean
        if kind == "swapped":
            j = pick_other(rng, n, i, lambda j, r=r: rows[j]["answer"] not in r["passage"])
            resp = rows[j]["answer"]
        elif kind == "truncated":
            resp = truncate(rng, clean)
        elif kind == "wrong_value":
            resp = r["distractor"]
        elif kind == "broken_format":
            resp = rng.choice(
                (
                    f"The answer is {clean}.",
                    f'{{"answer": "{clean}"}}',
                    f"According to the passage, the answer would be {clean}.",
                    f"Answer: {clean} (from the passage)",
                )
            )
        elif kind == "empty_or_irrelevant":
            resp = rng.choice(IRRELEVANT)
        records.append(
            {
                "id": ex_id,
                "instruction": QA_INSTRUCTION,
                "input": f"Passage: {r['passage']}\n\nQuestion: {r['question']}",
                "output": resp,
            }
        )
        labels.append(label(ex_id, kind, clean))
    return records, labels


# --------------------------------------------------------------------------- math

ITEMS = (
    "apples",
    "marbles",
    "stickers",
    "pencils",
    "cookies",
    "books",
    "shells",
    "stamps",
    "balloons",
    "cards",
    "buttons",
    "crayons",
)


def _math_problem(rng: random.Random, t: int):
    """Return (problem, steps, answer); each step is 'text: a op b = c' style prose."""
    name = rng.choice(FIRST_NAMES)
    friend = rng.choice([f for f in FIRST_NAMES if f != name])
    item = rng.choice(ITEMS)
    r = rng.randint
    if t == 0:
        a, b = r(3, 40), r(2, 25)
        return (
            f"{name} has {a} {item}. Then {name} buys {b} more. How many {item} does {name} have now?",
            [f"{name} starts with {a} {item} and buys {b} more: {a} + {b} = {a + b}."],
            a + b,
        )
    if t == 1:
        a = r(12, 60)
        b = r(2, a - 3)
        return (
            f"{name} had {a} {item} and gave {b} of them to {friend}. How many {item} does {name} have left?",
            [f"{name} gives away {b} of {a} {item}: {a} - {b} = {a - b}."],
            a - b,
        )
    if t == 2:
        a, b = r(2, 9), r(3, 12)
        return (
            f"A shelf has {a} rows with {b} {item} in each row. How many {item} are on the shelf?",
            [f"{a} rows of {b} {item} each: {a} * {b} = {a * b}."],
            a * b,
        )
    if t == 3:
        b, k = r(2, 8), r(2, 12)
        a = b * k
        return (
            f"{name} shares {a} {item} equally among {b} friends. How many {item} does each friend get?",
            [f"Split {a} {item} into {b} equal groups: {a} / {b} = {k}."],
            k,
        )
    if t == 4:
        a, b = r(2, 6), r(4, 12)
        c = r(1, a * b - 1)
        return (
            f"{name} buys {a} packs of {item} with {b} {item} in each pack, then gives {c} {item} to {friend}. "
            f"How many {item} does {name} have left?",
            [
                f"{item.capitalize()} bought: {a} * {b} = {a * b}.",
                f"After giving {c} away: {a * b} - {c} = {a * b - c}.",
            ],
            a * b - c,
        )
    if t == 5:
        a, b = r(10, 60), r(10, 60)
        c = a + b + r(5, 150)
        return (
            f"A book has {c} pages. {name} reads {a} pages on Monday and {b} pages on Tuesday. "
            f"How many pages are left to read?",
            [f"Pages read: {a} + {b} = {a + b}.", f"Pages left: {c} - {a + b} = {c - a - b}."],
            c - a - b,
        )
    if t == 6:
        a, b = r(2, 9), r(2, 5)
        c = rng.choice([x for x in (20, 50, 100) if x > a * b])
        return (
            f"A museum ticket costs {a} dollars. {name} buys {b} tickets and pays with a {c}-dollar bill. "
            f"How many dollars of change does {name} get?",
            [f"Cost of the tickets: {a} * {b} = {a * b} dollars.", f"Change: {c} - {a * b} = {c - a * b} dollars."],
            c - a * b,
        )
    if t == 7:
        a, b = r(8, 20), r(2, 8)
        c = r(3, a * b - 1)
        return (
            f"{name} earns {a} dollars per hour and works {b} hours. Then {name} spends {c} dollars on lunch. "
            f"How many dollars of those earnings does {name} have left?",
            [f"Earnings: {a} * {b} = {a * b} dollars.", f"After lunch: {a * b} - {c} = {a * b - c} dollars."],
            a * b - c,
        )
    if t == 8:
        c, boxes = rng.choice((4, 6, 8, 10, 12)), r(3, 9)
        total = c * boxes
        a = r(c, total - c)
        b = total - a
        return (
            f"A baker makes {a} muffins in the morning and {b} muffins in the afternoon. The muffins are packed "
            f"in boxes of {c}. How many boxes are filled?",
            [f"Total muffins: {a} + {b} = {total}.", f"Boxes: {total} / {c} = {boxes}."],
            boxes,
        )
    if t == 9:
        a, b = r(3, 9), r(20, 60)
        c = r(1, a * b - 1)
        return (
            f"A train has {a} cars with {b} seats in each car. {c} seats are empty. How many seats are taken?",
            [f"Total seats: {a} * {b} = {a * b}.", f"Seats taken: {a * b} - {c} = {a * b - c}."],
            a * b - c,
        )
    if t == 10:
        a, b, c = r(2, 9), r(3, 12), r(2, 30)
        return (
            f"A garden has {a} rows of tulips with {b} tulips in each row, plus {c} roses. "
            f"How many flowers are in the garden?",
            [f"Tulips: {a} * {b} = {a * b}.", f"All flowers: {a * b} + {c} = {a * b + c}."],
            a * b + c,
        )
    if t == 11:
        a, b, c = r(5, 15), r(2, 9), r(2, 10)
        return (
            f"{name} is {a} years old. {friend} is {b} years older than {name}. How old will {friend} be in {c} years?",
            [f"{friend}'s age now: {a} + {b} = {a + b}.", f"In {c} years: {a + b} + {c} = {a + b + c}."],
            a + b + c,
        )
    if t == 12:
        a, b = r(40, 70), r(3, 20)
        c = r(2, a + b - 30)
        return (
            f"In the morning the temperature was {a} degrees. By noon it rose {b} degrees, and by night it fell "
            f"{c} degrees from the noon temperature. What was the temperature at night?",
            [f"Noon: {a} + {b} = {a + b} degrees.", f"Night: {a + b} - {c} = {a + b - c} degrees."],
            a + b - c,
        )
    if t == 13:
        a, b = r(3, 25), r(2, 12)
        return (
            f"{name} saves {a} dollars every week. How many dollars will {name} have saved after {b} weeks?",
            [f"{a} dollars a week for {b} weeks: {a} * {b} = {a * b}."],
            a * b,
        )
    if t == 14:
        a = r(15, 50)
        b = r(2, a - 5)
        c = r(1, 20)
        return (
            f"A bus had {a} passengers. At the first stop, {b} passengers got off and {c} got on. "
            f"How many passengers are on the bus now?",
            [f"After {b} got off: {a} - {b} = {a - b}.", f"After {c} got on: {a - b} + {c} = {a - b + c}."],
            a - b + c,
        )
    if t == 15:
        c, each = r(2, 6), r(2, 9)
        b = r(1, 8)
        a = c * each + b
        return (
            f"{name} baked {a} cookies and ate {b} of them. The rest are shared equally among {c} bags. "
            f"How many cookies go in each bag?",
            [f"Cookies left: {a} - {b} = {a - b}.", f"Per bag: {a - b} / {c} = {each}."],
            each,
        )
    if t == 16:
        a, b = rng.choice((200, 250, 400)), r(2, 9)
        return (
            f"A running track is {a} meters around. {name} runs {b} laps. How many meters does {name} run?",
            [f"{b} laps of {a} meters: {b} * {a} = {a * b}."],
            a * b,
        )
    if t == 17:
        b = r(5, 40)
        a = b + r(3, 30)
        return (
            f"{name} has {a} {item} and {friend} has {b} {item}. How many more {item} does {name} have than {friend}?",
            [f"Difference: {a} - {b} = {a - b}."],
            a - b,
        )
    raise ValueError(t)


N_MATH_TEMPLATES = 18


def _math_solution(steps: list[str], answer: int) -> str:
    return "\n".join(steps) + f"\n#### {answer}"


def build_math(rng: random.Random) -> tuple[list[dict], list[dict]]:
    n = N_MATH
    rows = []
    seen: set[str] = set()
    for i in range(n):
        t = i % N_MATH_TEMPLATES
        while True:
            problem, steps, answer = _math_problem(rng, t)
            if problem not in seen:
                seen.add(problem)
                break
        rows.append({"problem": problem, "steps": steps, "answer": answer})
    order = list(range(n))
    rng.shuffle(order)
    rows = [rows[k] for k in order]

    plan = plan_errors(rng, n, lambda kind, i: True)
    records, labels = [], []
    for i, r in enumerate(rows):
        ex_id = f"math-{i + 1:04d}"
        clean, kind = _math_solution(r["steps"], r["answer"]), plan.get(i)
        resp = clean
        if kind == "swapped":
            j = pick_other(rng, n, i, lambda j, r=r: rows[j]["answer"] != r["answer"])
            resp = _math_solution(rows[j]["steps"], rows[j]["answer"])
        elif kind == "truncated":
            body = "\n".join(r["steps"])
            resp = truncate(rng, body, 0.3, 0.8)
        elif kind == "wrong_value":
            wrong = r["answer"] + rng.choice([d for d in (-10, -2, -1, 1, 2, 3, 10) if r["answer"] + d > 0])
            last = r["steps"][-1]
            head, _, tail = last.rpartition(f"= {r['answer']}")
            steps = r["steps"][:-1] + [f"{head}= {wrong}{tail}"]
            resp = _math_solution(steps, wrong)
        elif kind == "broken_format":
            body = "\n".join(r["steps"])
            resp = (
                body
                + "\n"
                + rng.choice(
                    (
                        f"The answer is {r['answer']}.",
                        f"Answer: {r['answer']}",
                        f"Final answer = {r['answer']}",
                        f"## {r['answer']}",
                    )
                )
            )
        elif kind == "empty_or_irrelevant":
            resp = rng.choice(IRRELEVANT)
        records.append(
            {
                "id": ex_id,
                "conversations": [
                    {"from": "human", "value": r["problem"]},
                    {"from": "gpt", "value": resp},
                ],
            }
        )
        labels.append(label(ex_id, kind, clean, answer=r["answer"]))
    return records, labels


# --------------------------------------------------------------------------- open chat

# (country, capital, a well-known non-capital city of that country)
CAPITALS = (
    ("France", "Paris", "Lyon"),
    ("Australia", "Canberra", "Sydney"),
    ("Canada", "Ottawa", "Toronto"),
    ("Japan", "Tokyo", "Osaka"),
    ("Italy", "Rome", "Milan"),
    ("Germany", "Berlin", "Munich"),
    ("Spain", "Madrid", "Barcelona"),
    ("Brazil", "Brasilia", "Rio de Janeiro"),
    ("Turkey", "Ankara", "Istanbul"),
    ("India", "New Delhi", "Mumbai"),
    ("Egypt", "Cairo", "Alexandria"),
    ("Kenya", "Nairobi", "Mombasa"),
    ("Argentina", "Buenos Aires", "Cordoba"),
    ("Peru", "Lima", "Cusco"),
    ("Norway", "Oslo", "Bergen"),
    ("Portugal", "Lisbon", "Porto"),
    ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("South Korea", "Seoul", "Busan"),
    ("Poland", "Warsaw", "Krakow"),
    ("Greece", "Athens", "Thessaloniki"),
    ("Ireland", "Dublin", "Cork"),
    ("Mexico", "Mexico City", "Guadalajara"),
    ("Chile", "Santiago", "Valparaiso"),
    ("New Zealand", "Wellington", "Auckland"),
    ("Nigeria", "Abuja", "Lagos"),
    ("Switzerland", "Bern", "Zurich"),
)
CAPITAL_PROMPTS = ("What is the capital of {c}?", "Name the capital city of {c}.", "Which city is the capital of {c}?")
CAPITAL_ANSWERS = ("The capital of {c} is {x}.", "{x} is the capital of {c}.", "{x}.")

TRANSLATION_LANGS = ("Spanish", "French", "German", "Italian")
TRANSLATIONS = (
    ("good morning", ("Buenos días", "Bonjour", "Guten Morgen", "Buongiorno")),
    ("thank you", ("Gracias", "Merci", "Danke", "Grazie")),
    ("good night", ("Buenas noches", "Bonne nuit", "Gute Nacht", "Buonanotte")),
    ("cat", ("gato", "chat", "Katze", "gatto")),
    ("water", ("agua", "eau", "Wasser", "acqua")),
    ("book", ("libro", "livre", "Buch", "libro")),
)
TRANSLATION_PROMPTS = ("Translate '{p}' to {lang}.", "How do you say '{p}' in {lang}?", "What is '{p}' in {lang}?")
TRANSLATION_ANSWERS = ("In {lang}, '{p}' is '{t}'.", "'{t}' is how you say '{p}' in {lang}.")

# (term, correct one-sentence definition, wrong definition)
DEFINITIONS = (
    (
        "photosynthesis",
        "Photosynthesis is the process by which plants use sunlight, water, and carbon dioxide to make sugar "
        "and release oxygen.",
        "Photosynthesis is the process by which animals digest food in their stomachs.",
    ),
    (
        "evaporation",
        "Evaporation is the process in which a liquid turns into a gas, usually when it is heated.",
        "Evaporation is the process in which a gas cools and turns back into a liquid.",
    ),
    (
        "a prime number",
        "A prime number is a whole number greater than 1 whose only divisors are 1 and itself.",
        "A prime number is any whole number that can be divided evenly by 2.",
    ),
    (
        "a noun",
        "A noun is a word that names a person, place, thing, or idea.",
        "A noun is a word that describes an action, such as run or jump.",
    ),
    (
        "gravity",
        "Gravity is the force that pulls objects with mass toward each other, such as things falling toward the Earth.",
        "Gravity is the force that pushes objects away from the Earth and into space.",
    ),
    (
        "a mammal",
        "A mammal is a warm-blooded animal with hair or fur that feeds its young with milk.",
        "A mammal is a cold-blooded animal that breathes through gills and lays eggs in water.",
    ),
    (
        "a volcano",
        "A volcano is an opening in the Earth's crust through which molten rock, ash, and gases escape.",
        "A volcano is a deep valley carved slowly by a river over many years.",
    ),
    (
        "democracy",
        "Democracy is a system of government in which citizens choose their leaders, usually by voting.",
        "Democracy is a system of government in which a single king rules with unlimited power.",
    ),
    (
        "an adjective",
        "An adjective is a word that describes a noun, such as tall or blue.",
        "An adjective is a word that joins two sentences, such as and or but.",
    ),
    (
        "the equator",
        "The equator is the imaginary line around the middle of the Earth, halfway between the North and South Poles.",
        "The equator is the imaginary line that runs from the North Pole to the South Pole through Greenwich.",
    ),
    (
        "a triangle",
        "A triangle is a flat shape with three straight sides and three angles.",
        "A triangle is a flat shape with four equal sides and four right angles.",
    ),
    (
        "condensation",
        "Condensation is the process in which a gas cools and turns into a liquid, like droplets forming on "
        "a cold glass.",
        "Condensation is the process in which ice warms up and melts into water.",
    ),
    (
        "an ecosystem",
        "An ecosystem is a community of living things interacting with each other and with their physical environment.",
        "An ecosystem is a type of computer network used to connect offices.",
    ),
    (
        "inflation",
        "Inflation is the general rise in prices over time, which reduces what a unit of money can buy.",
        "Inflation is the general fall in prices over time, which makes money buy more.",
    ),
)
DEFINITION_PROMPTS = (
    "Give a one-sentence definition of {t}.",
    "Define {t} in one sentence.",
    "In one sentence, what is {t}?",
)

# (two phrasings of the question, correct answer, wrong answer)
FACTS = (
    (
        ("How many legs does a spider have?", "A spider has how many legs?"),
        "A spider has eight legs.",
        "A spider has six legs.",
    ),
    (
        (
            "What is the boiling point of water at sea level in degrees Celsius?",
            "At sea level, water boils at what temperature in Celsius?",
        ),
        "Water boils at 100 degrees Celsius at sea level.",
        "Water boils at 80 degrees Celsius at sea level.",
    ),
    (
        ("Who wrote Romeo and Juliet?", "Which playwright wrote Romeo and Juliet?"),
        "William Shakespeare wrote Romeo and Juliet.",
        "Charles Dickens wrote Romeo and Juliet.",
    ),
    (
        ("What is the chemical symbol for gold?", "Give the chemical symbol of gold."),
        "The chemical symbol for gold is Au.",
        "The chemical symbol for gold is Ag.",
    ),
    (
        ("How many days are in a leap year?", "A leap year has how many days?"),
        "A leap year has 366 days.",
        "A leap year has 364 days.",
    ),
    (
        ("What is the largest planet in our solar system?", "Which planet in our solar system is the biggest?"),
        "Jupiter is the largest planet in our solar system.",
        "Mercury is the largest planet in our solar system.",
    ),
    (
        (
            "Which gas do plants take in from the air for photosynthesis?",
            "What gas do plants absorb from the air to carry out photosynthesis?",
        ),
        "Plants take in carbon dioxide from the air for photosynthesis.",
        "Plants take in helium from the air for photosynthesis.",
    ),
    (
        ("How many sides does a hexagon have?", "A hexagon has how many sides?"),
        "A hexagon has six sides.",
        "A hexagon has eight sides.",
    ),
    (
        ("What is the square root of 81?", "Give the square root of 81."),
        "The square root of 81 is 9.",
        "The square root of 81 is 8.",
    ),
    (("What is 15% of 200?", "Calculate 15 percent of 200."), "15% of 200 is 30.", "15% of 200 is 25."),
    (
        ("Who painted the Mona Lisa?", "Which artist painted the Mona Lisa?"),
        "Leonardo da Vinci painted the Mona Lisa.",
        "Vincent van Gogh painted the Mona Lisa.",
    ),
    (
        (
            "What is the freezing point of water in degrees Fahrenheit?",
            "At what Fahrenheit temperature does water freeze?",
        ),
        "Water freezes at 32 degrees Fahrenheit.",
        "Water freezes at 0 degrees Fahrenheit.",
    ),
    (
        ("What is the smallest prime number?", "Which number is the smallest prime?"),
        "The smallest prime number is 2.",
        "The smallest prime number is 1.",
    ),
    (
        ("What is the chemical formula for water?", "Give the chemical formula of water."),
        "The chemical formula for water is H2O.",
        "The chemical formula for water is CO2.",
    ),
    (
        ("In what year did humans first land on the Moon?", "When did people first walk on the Moon?"),
        "Humans first landed on the Moon in 1969.",
        "Humans first landed on the Moon in 1975.",
    ),
    (
        ("Which organ pumps blood through the human body?", "What organ pumps blood around the body?"),
        "The heart pumps blood through the body.",
        "The liver pumps blood through the body.",
    ),
    (
        ("What language is mainly spoken in Brazil?", "Which language do most people in Brazil speak?"),
        "Portuguese is the main language spoken in Brazil.",
        "Spanish is the main language spoken in Brazil.",
    ),
    (
        ("How many minutes are in two hours?", "Two hours is how many minutes?"),
        "There are 120 minutes in two hours.",
        "There are 100 minutes in two hours.",
    ),
    (
        ("What is the closest star to Earth?", "Which star is nearest to the Earth?"),
        "The Sun is the closest star to Earth.",
        "Polaris, the North Star, is the closest star to Earth.",
    ),
    (
        ("How many planets are in our solar system?", "How many planets orbit our Sun?"),
        "There are eight planets in our solar system.",
        "There are twelve planets in our solar system.",
    ),
    (
        ("Which ocean is the largest?", "What is the largest ocean on Earth?"),
        "The Pacific Ocean is the largest ocean on Earth.",
        "The Indian Ocean is the largest ocean on Earth.",
    ),
    (
        ("How many bones are in the adult human body?", "An adult human has how many bones?"),
        "An adult human body has 206 bones.",
        "An adult human body has 150 bones.",
    ),
    (
        ("What is the main ingredient in guacamole?", "Guacamole is mainly made from which fruit?"),
        "Avocado is the main ingredient in guacamole.",
        "Potato is the main ingredient in guacamole.",
    ),
    (
        ("Who developed the theory of relativity?", "Which scientist developed the theory of relativity?"),
        "Albert Einstein developed the theory of relativity.",
        "Isaac Newton developed the theory of relativity.",
    ),
    (
        ("How many strings does a standard violin have?", "A standard violin has how many strings?"),
        "A standard violin has four strings.",
        "A standard violin has six strings.",
    ),
    (
        ("What color do you get by mixing blue and yellow paint?", "Mixing blue and yellow paint gives which color?"),
        "Mixing blue and yellow paint makes green.",
        "Mixing blue and yellow paint makes purple.",
    ),
    (
        ("Which planet is known as the Red Planet?", "What planet is called the Red Planet?"),
        "Mars is known as the Red Planet.",
        "Venus is known as the Red Planet.",
    ),
    (("How many hours are in a day?", "A day has how many hours?"), "A day has 24 hours.", "A day has 20 hours."),
    (
        ("What do bees make from flower nectar?", "Bees turn flower nectar into what?"),
        "Bees make honey from flower nectar.",
        "Bees make milk from flower nectar.",
    ),
    (
        (
            "How many players does a soccer team have on the field?",
            "How many players from one team are on a soccer field at once?",
        ),
        "A soccer team has eleven players on the field.",
        "A soccer team has seven players on the field.",
    ),
)

# (two phrasings, correct answer, wrong answer)
LISTS = (
    (
        ("List the three primary colors of paint.", "Name the three traditional primary colors."),
        "Red, yellow, and blue.",
        "Orange, green, and purple.",
    ),
    (
        ("Name the four seasons.", "List the four seasons of the year."),
        "Spring, summer, autumn, and winter.",
        "Spring, summer, autumn, and December.",
    ),
    (
        ("List the three common states of matter.", "Name three states of matter."),
        "Solid, liquid, and gas.",
        "Solid, liquid, and metal.",
    ),
    (
        ("Name the first three planets from the Sun.", "List the three planets closest to the Sun, in order."),
        "Mercury, Venus, and Earth.",
        "Mercury, Mars, and Jupiter.",
    ),
    (
        ("List the first five prime numbers.", "Name the first five prime numbers."),
        "2, 3, 5, 7, and 11.",
        "1, 3, 5, 7, and 9.",
    ),
    (
        ("Name the days of the weekend.", "Which days make up the weekend?"),
        "Saturday and Sunday.",
        "Friday and Monday.",
    ),
    (
        ("List three mammals that live in the ocean.", "Name three sea mammals."),
        "Whales, dolphins, and seals.",
        "Sharks, octopuses, and jellyfish.",
    ),
    (
        ("Name the three primary colors of light.", "List the primary colors of light."),
        "Red, green, and blue.",
        "Red, yellow, and black.",
    ),
    (
        ("List the five vowels of the English alphabet.", "Name the five English vowels."),
        "A, E, I, O, and U.",
        "A, B, C, D, and E.",
    ),
    (
        ("Name three countries in South America.", "List three South American countries."),
        "Brazil, Argentina, and Peru.",
        "Brazil, Spain, and Canada.",
    ),
    (
        ("List the colors of the rainbow in order.", "Name the seven colors of a rainbow in order."),
        "Red, orange, yellow, green, blue, indigo, and violet.",
        "Red, yellow, orange, green, violet, blue, and indigo.",
    ),
)

# (word, correct form, wrong form)
PLURALS = (
    ("mouse", "mice", "mouses"),
    ("child", "children", "childs"),
    ("tooth", "teeth", "tooths"),
    ("goose", "geese", "gooses"),
    ("woman", "women", "womans"),
    ("leaf", "leaves", "leafs"),
    ("foot", "feet", "foots"),
)
PAST_TENSES = (
    ("run", "ran", "runned"),
    ("eat", "ate", "eated"),
    ("swim", "swam", "swimmed"),
    ("write", "wrote", "writed"),
    ("go", "went", "goed"),
)
OPPOSITES = (
    ("hot", "cold", "warm"),
    ("early", "late", "soon"),
    ("empty", "full", "hollow"),
    ("asleep", "awake", "tired"),
    ("up", "down", "over"),
    ("ancient", "modern", "old"),
    ("generous", "selfish", "kind"),
)
CONVERSIONS = (
    ("kilometers", "meters", 1000),
    ("hours", "minutes", 60),
    ("meters", "centimeters", 100),
    ("kilograms", "grams", 1000),
    ("feet", "inches", 12),
    ("weeks", "days", 7),
    ("minutes", "seconds", 60),
)


def _chat_items(rng: random.Random) -> list[dict]:
    """Every curated item once, each with one randomly chosen phrasing."""
    items = []
    for c, cap, wrong in CAPITALS:
        k = rng.randrange(len(CAPITAL_ANSWERS))
        items.append(
            {
                "prompt": rng.choice(CAPITAL_PROMPTS).format(c=c),
                "answer": CAPITAL_ANSWERS[k].format(c=c, x=cap),
                "wrong": CAPITAL_ANSWERS[k].format(c=c, x=wrong),
            }
        )
    for pi, (phrase, words) in enumerate(TRANSLATIONS):
        for li, lang in enumerate(TRANSLATION_LANGS):
            k = rng.randrange(len(TRANSLATION_ANSWERS))
            other = TRANSLATIONS[(pi + 1) % len(TRANSLATIONS)][1][li]
            items.append(
                {
                    "prompt": rng.choice(TRANSLATION_PROMPTS).format(p=phrase, lang=lang),
                    "answer": TRANSLATION_ANSWERS[k].format(p=phrase, lang=lang, t=words[li]),
                    "wrong": TRANSLATION_ANSWERS[k].format(p=phrase, lang=lang, t=other),
                }
            )
    for term, good, bad in DEFINITIONS:
        items.append({"prompt": rng.choice(DEFINITION_PROMPTS).format(t=term), "answer": good, "wrong": bad})
    for prompts, good, bad in FACTS + LISTS:
        items.append({"prompt": rng.choice(prompts), "answer": good, "wrong": bad})
    for word, good, bad in PLURALS:
        p = rng.choice(("What is the plural of '{w}'?", "Give the plural form of '{w}'."))
        items.append(
            {
                "prompt": p.format(w=word),
                "answer": f"The plural of '{word}' is '{good}'.",
                "wrong": f"The plural of '{word}' is '{bad}'.",
            }
        )
    for word, good, bad in PAST_TENSES:
        p = rng.choice(("What is the past tense of '{w}'?", "Give the simple past tense of the verb '{w}'."))
        items.append(
            {
                "prompt": p.format(w=word),
                "answer": f"The past tense of '{word}' is '{good}'.",
                "wrong": f"The past tense of '{word}' is '{bad}'.",
            }
        )
    for word, good, bad in OPPOSITES:
        p = rng.choice(("What is the opposite of '{w}'?", "Give an antonym of '{w}'."))
        items.append(
            {
                "prompt": p.format(w=word),
                "answer": f"The opposite of '{word}' is '{good}'.",
                "wrong": f"The opposite of '{word}' is '{bad}'.",
            }
        )
    return items


def _chat_generated(rng: random.Random, k: int) -> dict:
    """Checkable tasks built from numbers: unit conversions, sorting, multiplication."""
    kind = k % 3
    if kind == 0:
        src, dst, factor = CONVERSIONS[(k // 3) % len(CONVERSIONS)]
        v = rng.randint(2, 9)
        return {
            "prompt": f"Convert {v} {src} to {dst}.",
            "answer": f"{v} {src} is {v * factor} {dst}.",
            "wrong": f"{v} {src} is {v * factor // 10 if factor >= 100 else v * factor + v} {dst}.",
        }
    if kind == 1:
        nums = rng.sample(range(1, 60), 5)
        s = sorted(nums)
        w = s[:]
        w[1], w[3] = w[3], w[1]
        return {
            "prompt": f"Sort these numbers from smallest to largest: {', '.join(map(str, nums))}.",
            "answer": f"From smallest to largest: {', '.join(map(str, s))}.",
            "wrong": f"From smallest to largest: {', '.join(map(str, w))}.",
        }
    a, b = rng.randint(3, 12), rng.randint(3, 12)
    return {
        "prompt": f"What is {a} times {b}?",
        "answer": f"{a} times {b} is {a * b}.",
        "wrong": f"{a} times {b} is {a * b + rng.choice((-2, -1, 1, 2, 10))}.",
    }


def build_open_chat(rng: random.Random) -> tuple[list[dict], list[dict]]:
    n = N_CHAT
    items = _chat_items(rng)
    seen = {it["prompt"] for it in items}
    k = 0
    while len(items) < n:
        it = _chat_generated(rng, k)
        k += 1
        if it["prompt"] not in seen:
            seen.add(it["prompt"])
            items.append(it)
    rng.shuffle(items)

    plan = plan_errors(rng, n, lambda kind, i: kind != "truncated" or len(items[i]["answer"].split()) >= 4)
    rows, labels = [], []
    for i, it in enumerate(items):
        ex_id = f"chat-{i + 1:04d}"
        clean, kind = it["answer"], plan.get(i)
        resp = clean
        if kind == "swapped":
            j = pick_other(rng, n, i, lambda j, clean=clean: items[j]["answer"] != clean)
            resp = items[j]["answer"]
        elif kind == "truncated":
            resp = truncate(rng, clean)
        elif kind == "wrong_value":
            resp = it["wrong"]
        elif kind == "broken_format":
            resp = rng.choice(
                (
                    f"<|im_start|>assistant {clean}<|im_end|><|im_start|>user",
                    f"{clean}</s><s>[INST] Next question [/INST]",
                    f'{{"role": "assistant", "content": "{clean}"',
                    f'<div class="answer"><p>{clean}</p></div></body></html>',
                )
            )
        elif kind == "empty_or_irrelevant":
            resp = rng.choice(IRRELEVANT)
        rows.append({"id": ex_id, "prompt": it["prompt"], "response": resp})
        labels.append(label(ex_id, kind, clean))
    return rows, labels


# --------------------------------------------------------------------------- writing


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "prompt", "response"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def build_all() -> dict[str, str]:
    """File name -> exact text for every output file."""
    out: dict[str, str] = {}
    recs, labs = build_support_intents(random.Random(SEED + 1))
    out["support_intents.jsonl"] = _jsonl(recs)
    out["support_intents.labels.jsonl"] = _jsonl(labs)
    recs, labs = build_passage_qa(random.Random(SEED + 2))
    out["passage_qa.jsonl"] = _jsonl(recs)
    out["passage_qa.labels.jsonl"] = _jsonl(labs)
    recs, labs = build_math(random.Random(SEED + 3))
    out["math_word_problems.json"] = json.dumps(recs, ensure_ascii=False, indent=2) + "\n"
    out["math_word_problems.labels.jsonl"] = _jsonl(labs)
    rows, labs = build_open_chat(random.Random(SEED + 4))
    out["open_chat.csv"] = _csv(rows)
    out["open_chat.labels.jsonl"] = _jsonl(labs)
    return out


OUTPUT_FILES = (
    "support_intents.jsonl",
    "support_intents.labels.jsonl",
    "passage_qa.jsonl",
    "passage_qa.labels.jsonl",
    "math_word_problems.json",
    "math_word_problems.labels.jsonl",
    "open_chat.csv",
    "open_chat.labels.jsonl",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "output_dir",
        nargs="?",
        default=str(Path(__file__).resolve().parent),
        help="where to write the files (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in build_all().items():
        (out_dir / name).write_bytes(text.encode("utf-8"))
        print(f"wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
