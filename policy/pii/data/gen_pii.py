#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""gen_pii.py: synthetic labelled text for steward's PII model.

Writes JSON lines {"text": ..., "spans": [{"start", "end", "label"}]} with
code-point offsets (the format of ner_btc_*.jsonl and of `steward-pii
eval`).  Every template is our own, written for the shapes of text the
sidecar sees: chat prompts, support tickets, HR notes, medical intake,
banking messages, e-mails, code and logs with secrets, source code pasted
into prompts (whose identifiers are words but not names), and postal
addresses in US, UK and EU formats.  Names, places and companies are sampled from the
lists in this directory (frequency-weighted and uniform, half each), plus
invented names so that the model also meets names no list holds.  The
structured types (EMAIL, PHONE, CREDIT_CARD, US_SSN, IBAN, IP_ADDRESS, URL,
DATE, SECRET) are generated from their public specifications (Luhn, ISO
13616 mod-97, SSA rules, RFC 5322/3986) with gold spans, so that an eval
measures the whole classifier.

Determinism: a splitmix64 generator of our own (not Python's `random`), so
the same --seed gives the same bytes on every Python 3 version.

The dev split never shares a template, a person name, a city or a company
with the train split: every fifth template of each domain is dev-only, and
each list value goes to dev when a stable hash of it is 0 mod 10.

Usage:
  gen_pii.py --data DIR --seed S --split train|dev --n N > out.jsonl
  gen_pii.py --data DIR common-words BTC_TRAIN.jsonl   (rebuilds common_words.txt's list)
  gen_pii.py clean-btc BTC.jsonl [lower] > out.jsonl    (@-mentions unlabelled; lower-cased)
  gen_pii.py code-sample FILE... > out.jsonl              (source code snippets, no gold spans)
"""

import argparse
import bisect
import json
import os
import sys

MASK64 = (1 << 64) - 1


class Rng:
    """splitmix64: small, fast, and the same everywhere."""

    def __init__(self, seed):
        self.s = seed & MASK64

    def u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.u64() % n

    def chance(self, p):
        return self.u64() < int(p * 18446744073709551616.0)

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def digits(self, n):
        return "".join(str(self.below(10)) for _ in range(n))

    def wchoice(self, pool):
        """pool = (items, cumulative weights)."""
        items, cum = pool
        x = self.u64() / 18446744073709551616.0 * cum[-1]
        return items[min(bisect.bisect_right(cum, x), len(items) - 1)]


def stable_hash(s):
    h = 0xCBF29CE484222325
    for b in s.lower().encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def in_split(value, split):
    dev = stable_hash(value) % 10 == 0
    return dev if split == "dev" else not dev


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            yield line.split("\t")


def pool(items, weights):
    cum, t = [], 0.0
    for w in weights:
        t += w
        cum.append(t)
    return (items, cum)


def fix_surname(s):
    s = s.capitalize()
    if s.startswith("Mc") and len(s) > 3:
        s = "Mc" + s[2].upper() + s[3:]
    return s


class Lists:
    def __init__(self, data, split):
        firsts, fw = [], []
        for row in read_tsv(os.path.join(data, "first_names_ssa.tsv")):
            name = row[0]
            if in_split(name, split):
                firsts.append(name)
                fw.append(int(row[3]) + int(row[2]) // 10 + 1)
        self.first_w = pool(firsts, fw)
        self.first_u = firsts
        lasts, lw = [], []
        for row in read_tsv(os.path.join(data, "surnames_census1990.tsv")):
            name = fix_surname(row[0])
            if in_split(name, split):
                lasts.append(name)
                lw.append(float(row[1]) + 0.0005)
        self.last_w = pool(lasts, lw)
        self.last_u = lasts
        self.cities = [r[0] for r in read_tsv(os.path.join(data, "cities_geonames15000.tsv"))
                       if in_split(r[0], split)]
        self.city_country = {}
        for r in read_tsv(os.path.join(data, "cities_geonames15000.tsv")):
            self.city_country.setdefault(r[0], r[1])
        self.big_cities = [c for c in BIG_CITIES if in_split(c, split)]
        self.countries = [r[0] for r in read_tsv(os.path.join(data, "countries.txt"))]
        self.regions = [r[0] for r in read_tsv(os.path.join(data, "regions_admin1.tsv"))]
        self.us_states = [r[0] for r in read_tsv(os.path.join(data, "regions_admin1.tsv"))
                          if r[1] == "United States"]
        comps = []
        for r in read_tsv(os.path.join(data, "companies_sec.tsv")):
            n = clean_company(r[0])
            if n and in_split(n, split):
                comps.append(n)
        self.companies = comps
        sfx = []
        for r in read_tsv(os.path.join(data, "street_suffixes_usps.tsv")):
            sfx.append((r[0].capitalize(), r[1].capitalize()))
        self.street_suffixes = sfx


def clean_company(n):
    for cut in ("/", "("):
        if cut in n:
            n = n[: n.index(cut)]
    n = n.strip().rstrip(",").strip()
    return n


# Well-known cities (our own list) sampled more often than the long tail.
BIG_CITIES = """New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|
San Jose|Austin|Jacksonville|San Francisco|Columbus|Seattle|Denver|Boston|Nashville|Portland|
Las Vegas|Detroit|Memphis|Atlanta|Miami|Minneapolis|Cleveland|Pittsburgh|St. Louis|Baltimore|
Milwaukee|Sacramento|Kansas City|Tampa|Orlando|Raleigh|Salt Lake City|Honolulu|Anchorage|
London|Manchester|Birmingham|Liverpool|Leeds|Glasgow|Edinburgh|Bristol|Cardiff|Belfast|Oxford|
Cambridge|Dublin|Cork|Paris|Lyon|Marseille|Toulouse|Nice|Berlin|Munich|Hamburg|Frankfurt|Cologne|
Stuttgart|Vienna|Zurich|Geneva|Amsterdam|Rotterdam|Brussels|Antwerp|Madrid|Barcelona|Valencia|
Seville|Lisbon|Porto|Rome|Milan|Naples|Turin|Florence|Venice|Athens|Stockholm|Oslo|Copenhagen|
Helsinki|Warsaw|Krakow|Prague|Budapest|Bucharest|Sofia|Istanbul|Moscow|Kyiv|Tokyo|Osaka|Seoul|
Beijing|Shanghai|Hong Kong|Singapore|Bangkok|Manila|Jakarta|Mumbai|Delhi|Bangalore|Chennai|
Karachi|Dubai|Tel Aviv|Cairo|Lagos|Nairobi|Johannesburg|Cape Town|Sydney|Melbourne|Brisbane|
Perth|Auckland|Toronto|Montreal|Vancouver|Calgary|Ottawa|Mexico City|Guadalajara|Bogota|Lima|
Santiago|Buenos Aires|Sao Paulo|Rio de Janeiro""".replace("\n", "").split("|")

STREET_NAMES = """Main|Oak|Maple|Pine|Cedar|Elm|Washington|Lake|Hill|Park|Church|High|Mill|Spring|Union|
Market|Water|Ridge|Sunset|Highland|Lincoln|Jefferson|Madison|Franklin|Chestnut|Walnut|Willow|
Meadow|River|Forest|Valley|Center|North|South|Broad|Bridge|King|Queen|Victoria|Station|Green|
Orchard|Cherry|Birch|Hickory|Jackson|Adams|Monroe|Harrison|Grant|Cleveland|Kennedy|Martin Luther King|
Bay|Harbor|Lakeview|Fairview|Riverside|Woodland|Prospect|Academy|College|School|Mulberry|Poplar""".replace("\n", "").split("|")
ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "12th", "14th", "21st", "42nd"]
UK_STREET = ["Road", "Street", "Lane", "Avenue", "Close", "Crescent", "Drive", "Gardens", "Place", "Way", "Terrace", "Grove", "Mews", "Square", "Hill", "Row"]
UK_POST = ["SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "LS1 4AP", "G2 3BZ", "EH1 1YZ", "BS1 5TR", "CF10 1EP", "OX1 2JD", "CB2 1TN", "NE1 7RU", "L1 8JQ"]
EU_STREET_WORDS = ["Linden", "Berg", "Garten", "Kirch", "Schiller", "Goethe", "Bahnhof", "Haupt", "Wald", "Rosen", "Mozart", "Markt", "Schul", "Sonnen", "Blumen"]
FR_STREETS = ["rue de la Paix", "rue Victor Hugo", "avenue des Champs-Élysées", "boulevard Saint-Germain", "rue du Faubourg Saint-Honoré", "rue de Rivoli", "place de la République", "rue Jean Jaurès", "avenue Foch", "rue Pasteur"]
ES_STREETS = ["Calle Mayor", "Calle de Alcalá", "Gran Vía", "Paseo de la Castellana", "Calle Real", "Avenida de la Constitución", "Calle del Carmen", "Rambla de Catalunya"]
IT_STREETS = ["Via Roma", "Via Garibaldi", "Via Dante", "Corso Vittorio Emanuele", "Via Mazzini", "Via Verdi", "Piazza Navona", "Via del Corso"]
NL_STREETS = ["Keizersgracht", "Prinsengracht", "Damrak", "Kalverstraat", "Herengracht", "Stationsplein", "Lijnbaan", "Coolsingel"]

TITLES = ["Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Ms", "Dr", "Miss", "Sir", "Officer", "Nurse", "Coach", "Judge", "Senator", "Captain"]
JOBS = ["Senior Software Engineer", "Chief Financial Officer", "Head of Marketing", "Product Manager", "Data Scientist",
        "Registered Nurse", "Account Executive", "Customer Success Manager", "Vice President of Sales", "HR Business Partner",
        "Staff Accountant", "Operations Director", "Technical Lead", "Office Manager", "General Counsel", "Chief Executive Officer",
        "Junior Analyst", "Site Reliability Engineer", "Clinical Coordinator", "Loan Officer", "Branch Manager", "Teaching Assistant"]
PRODUCTS = ["iPhone 15", "Galaxy S23", "Windows 11", "Excel", "PowerPoint", "Outlook", "Google Docs", "Slack", "Zoom", "Teams",
            "Jira", "Kindle", "PlayStation 5", "Xbox", "MacBook Pro", "ThinkPad", "Python", "Java", "Kubernetes",
            "Docker", "PostgreSQL", "Premium Plan", "Gold Card", "Pro Max", "Model Y", "AirPods", "Chrome", "Photoshop", "QuickBooks",
            "Visual Studio Code", "Android 14", "Gmail", "WordPress", "Notion", "Figma", "Tableau", "SharePoint"]
DEPTS = ["Accounts Payable", "Human Resources", "Customer Support", "the Legal team", "Finance", "IT Support", "the Sales team",
         "Engineering", "Billing", "Radiology", "Cardiology", "Compliance", "Procurement", "Payroll", "the Help Desk"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
MON3 = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "aol.com", "mail.com",
                "example.com", "example.org", "company.com", "corp.example.net", "web.de", "gmx.de", "orange.fr", "libero.it"]
SYLL_A = ["ka", "lo", "mi", "ra", "ze", "no", "ta", "vi", "sha", "ko", "ya", "de", "bu", "li", "an", "ol", "ek", "ju", "ri", "ma", "su", "fe", "ga", "ni", "to", "zu", "ba", "chi", "wen", "xi"]
SYLL_B = ["n", "ra", "la", "ko", "mi", "s", "ro", "ne", "ta", "wa", "ki", "do", "ya", "lin", "ez", "ov", "ski", "sen", "ani", "elo", "ur", "ic", "ang", "uma", "eke", "ola", "ian", "ard"]
ORG_HEADS = ["Global", "United", "Northern", "Pacific", "Atlantic", "Summit", "Pioneer", "Evergreen", "Blue Ridge", "Silver Lake",
             "Redwood", "Ironclad", "Brightpath", "Nova", "Apex", "Horizon", "Keystone", "Meridian", "Sterling", "Crescent", "Vertex",
             "Bluebird", "Granite", "Harbor", "Lighthouse", "Oakridge", "Quantum", "Riverbend", "Starlight", "Tidewater"]
ORG_TAILS = ["Logistics", "Analytics", "Health", "Capital", "Partners", "Foods", "Energy", "Systems", "Software", "Consulting",
             "Robotics", "Pharmaceuticals", "Insurance", "Bank", "Credit Union", "Realty", "Labs", "Media", "Airlines", "Motors",
             "Biotech", "Networks", "Security", "Dynamics", "Holdings", "Logistics Group", "Financial", "Technologies"]
ORG_SUFFIX = ["Inc.", "Inc", "LLC", "Ltd", "Ltd.", "GmbH", "Corp.", "Corporation", "plc", "AG", "S.A.", "B.V.", "LLP", "Co.", "SAS", "Pty Ltd"]
PLACE_PRE = ["North", "South", "East", "West", "New", "Lake", "Port", "Fort", "Mount", "Saint", "Glen", "Little", "Upper"]
PLACE_SUF = ["town", "ton", "ville", "burgh", "borough", "mouth", "side", "port", "haven", "view", "field", "berg",
             "bury", "chester", "land", "stad", "ford", "wood", "dale", "furt", "shire", "ham", "by"]
ORG_PATTERNS = ["{L} LLC", "{L} Inc", "{L} Ltd", "{L} Group", "{L} PLC", "{L}-{L}", "{L}, {L} and {L}", "{L} and Sons",
                "University of {C}", "{C} General Hospital", "{C} City Council", "First National Bank of {C}", "{C} Public Library",
                "{C} Community College", "{C} Police Department", "{C} Medical Center", "Bank of {C}", "{C} Chamber of Commerce",
                "St. {F}'s Hospital", "{L} & {L}", "{L} and {L} LLP", "{L} Family Dental", "{L} Law Group", "{L} & Sons",
                "{L} Consulting", "{L} Architects", "{C} Unified School District", "{C} Symphony Orchestra"]
FAMOUS_ORGS = ["Google", "Microsoft", "Amazon", "Apple", "Meta", "Netflix", "IBM", "Oracle", "Intel", "Samsung", "Siemens",
               "Deutsche Bank", "Barclays", "HSBC", "BNP Paribas", "Santander", "Wells Fargo", "JPMorgan Chase", "Bank of America",
               "Citibank", "Goldman Sachs", "PayPal", "Stripe", "Visa", "Mastercard", "American Express", "Walmart", "Target",
               "Costco", "IKEA", "Nike", "Adidas", "Toyota", "Volkswagen", "BMW", "Ford", "Tesla", "Uber", "Airbnb", "Spotify",
               "the NHS", "the FBI", "the IRS", "the UN", "NASA", "the World Health Organization", "the European Commission",
               "Red Cross", "UNICEF", "Harvard", "Stanford", "MIT", "Oxford University", "Kaiser Permanente", "Mayo Clinic",
               "Pfizer", "Moderna", "Accenture", "Deloitte", "KPMG", "PwC", "McKinsey", "Salesforce", "Shopify", "Zendesk",
               "OpenAI", "Anthropic", "Verizon", "AT&T", "Vodafone", "Comcast", "FedEx", "UPS", "DHL", "Delta", "Lufthansa"]


class Gen:
    def __init__(self, lists, rng):
        self.L = lists
        self.r = rng

    # ------------------------------------------------------------ names
    def invented(self):
        r = self.r
        s = r.choice(SYLL_A) + r.choice(SYLL_B)
        if r.chance(0.4):
            s += r.choice(SYLL_B)
        return s.capitalize()

    def first(self):
        r = self.r
        x = r.below(100)
        if x < 55:
            return r.wchoice(self.L.first_w)
        if x < 90:
            return r.choice(self.L.first_u)
        return self.invented()

    def last(self):
        r = self.r
        x = r.below(100)
        if x < 50:
            s = r.wchoice(self.L.last_w)
        elif x < 90:
            s = r.choice(self.L.last_u)
        else:
            s = self.invented()
        if s.startswith("O") and len(s) > 3 and s[1] not in "aeiou" and r.chance(0.5):
            s = "O'" + s[1:].capitalize()
        if r.chance(0.03):
            s = s + "-" + self.last()
        return s

    def person(self):
        r = self.r
        x = r.below(100)
        if x < 55:
            return self.first() + " " + self.last()
        if x < 72:
            return self.first()
        if x < 78:
            return self.first() + " " + chr(65 + r.below(26)) + ". " + self.last()
        if x < 84:
            return self.last()
        if x < 88:
            return self.first() + " " + self.first() + " " + self.last()
        if x < 92:
            return self.first()[0] + ". " + self.last()
        if x < 95:
            return self.last().upper() + " " + self.first()
        return self.first() + " " + self.last() + " " + r.choice(["Jr.", "Sr.", "II", "III"])

    # ----------------------------------------------------------- places
    def city(self):
        r = self.r
        x = r.below(100)
        if self.L.big_cities and x < 40:
            return r.choice(self.L.big_cities)
        if x < 88:
            return r.choice(self.L.cities)
        return self.invented_place()

    def invented_place(self):
        """A place name no list holds, built the way English place names
        are: a direction or water word before a name, or a name with a
        settlement ending."""
        r = self.r
        base = self.first() if r.chance(0.5) else self.last()
        if r.chance(0.45):
            return r.choice(PLACE_PRE) + " " + base
        stem = base.lower() if r.chance(0.5) else base.lower().rstrip("aeiouy")
        return (stem + r.choice(PLACE_SUF)).capitalize()

    def country(self):
        r = self.r
        if r.chance(0.3):
            return r.choice(["the United States", "the USA", "the UK", "Germany", "France", "Canada", "Mexico", "India",
                             "China", "Japan", "Brazil", "Spain", "Italy", "Ireland", "Australia", "the Netherlands",
                             "Poland", "Nigeria", "Kenya", "South Africa", "Switzerland", "Sweden", "Norway"])
        return r.choice(self.L.countries)

    def region(self):
        r = self.r
        if r.chance(0.5):
            return r.choice(self.L.us_states)
        return r.choice(self.L.regions)

    def state_code(self):
        return self.r.choice("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC".split())

    def us_street(self):
        r = self.r
        num = str(r.below(9899) + 1)
        x = r.below(10)
        name = r.choice(ORDINALS) if x < 2 else (self.last() if x < 4 else r.choice(STREET_NAMES))
        full, abbr = r.choice(self.L.street_suffixes[:40] if r.chance(0.7) else self.L.street_suffixes)
        sfx = full if r.chance(0.5) else abbr + ("." if r.chance(0.3) else "")
        pre = r.choice(["N. ", "S. ", "E. ", "W. ", "North ", "West "]) if r.chance(0.12) else ""
        s = f"{num} {pre}{name} {sfx}"
        if r.chance(0.25):
            s += r.choice([", Apt ", ", Apt. ", " Apt ", ", Suite ", ", Unit ", " #"]) + str(r.below(990) + 1) + (r.choice(["", "B", "C"]) if r.chance(0.2) else "")
        return s

    def address(self):
        r = self.r
        x = r.below(100)
        if x < 50:
            s = self.us_street()
            if r.chance(0.85):
                s += r.choice([", ", "\n", " "]) + self.city() + ", " + self.state_code() + " " + r.digits(5)
                if r.chance(0.1):
                    s += "-" + r.digits(4)
            return s
        if x < 68:
            s = f"{r.below(250) + 1} {r.choice(STREET_NAMES + [self.last()])} {r.choice(UK_STREET)}"
            if r.chance(0.8):
                s += r.choice([", ", "\n"]) + self.city()
                s += (" " if r.chance(0.5) else ", ") + r.choice(UK_POST)
            return s
        if x < 78:
            s = f"{r.choice(EU_STREET_WORDS)}{r.choice(['straße', 'strasse', 'weg', 'allee', 'platz'])} {r.below(150) + 1}"
            if r.chance(0.8):
                s += ", " + r.digits(5) + " " + self.city()
            return s
        if x < 86:
            s = f"{r.below(150) + 1} {r.choice(FR_STREETS)}"
            if r.chance(0.8):
                s += ", " + r.digits(5) + " " + self.city()
            return s
        if x < 91:
            s = f"{r.choice(ES_STREETS)} {r.below(150) + 1}"
            if r.chance(0.8):
                s += ", " + r.digits(5) + " " + self.city()
            return s
        if x < 96:
            s = f"{r.choice(IT_STREETS)} {r.below(150) + 1}"
            if r.chance(0.8):
                s += ", " + r.digits(5) + " " + self.city()
            return s
        s = f"{r.choice(NL_STREETS)} {r.below(300) + 1}"
        if r.chance(0.8):
            s += ", " + r.digits(4) + " " + chr(65 + r.below(26)) + chr(65 + r.below(26)) + " " + self.city()
        return s

    # ------------------------------------------------------------- orgs
    def org(self):
        r = self.r
        x = r.below(100)
        if x < 35 and self.L.companies:
            n = r.choice(self.L.companies)
            if n.isupper() and r.chance(0.7):
                n = " ".join(w if len(w) <= 4 and not any(c in "AEIOU" for c in w) else w.capitalize()
                             for w in n.split())
                n = n.replace("INC", "Inc").replace("CORP", "Corp").replace("Corp.", "Corp.")
            if r.chance(0.3):
                words = n.split()
                while len(words) > 1 and words[-1].rstrip(".,").lower() in ("inc", "corp", "co", "ltd", "llc", "lp", "plc", "corporation", "company", "limited", "holdings", "group", "trust", "&"):
                    words.pop()
                n = " ".join(words).rstrip(",& ")
            return n
        if x < 55:
            return r.choice(FAMOUS_ORGS)
        if x < 78:
            head = r.choice(ORG_HEADS) if r.chance(0.6) else self.last()
            s = head + " " + r.choice(ORG_TAILS)
            if r.chance(0.6):
                s += (", " if r.chance(0.2) else " ") + r.choice(ORG_SUFFIX)
            return s
        pat = r.choice(ORG_PATTERNS)
        out = pat.replace("{C}", self.city(), 1).replace("{F}", self.first(), 1)
        while "{L}" in out:
            out = out.replace("{L}", self.last(), 1)
        return out

    # ------------------------------------------------- structured values
    def email(self, name=None):
        r = self.r
        f = (name or self.first()).split()[0].lower()
        l = self.last().lower().replace("'", "").replace(" ", "")
        f = "".join(c for c in f if c.isalnum()) or "user"
        x = r.below(6)
        local = [f + "." + l, f + l, f[0] + l, f + "_" + l + r.digits(2), l + "." + f, f + r.digits(3)][x]
        local = local.encode("ascii", "ignore").decode() or "info"
        if r.chance(0.25):
            dom = "".join(c for c in self.org().lower() if c.isalnum())[:14] or "example"
            dom += "." + r.choice(["com", "io", "co.uk", "de", "org", "net"])
        else:
            dom = r.choice(MAIL_DOMAINS)
        return local + "@" + dom

    def phone(self):
        r = self.r
        a = str(r.below(800) + 200)
        b = str(r.below(800) + 200)
        c = r.digits(4)
        x = r.below(12)
        if x == 0:
            return f"({a}) {b}-{c}"
        if x == 1:
            return f"{a}-{b}-{c}"
        if x == 2:
            return f"{a}.{b}.{c}"
        if x == 3:
            return f"+1 {a} {b} {c}"
        if x == 4:
            return f"+1-{a}-{b}-{c}"
        if x == 5:
            return f"+44 20 {r.digits(4)} {r.digits(4)}"
        if x == 6:
            return f"07{r.digits(3)} {r.digits(6)}"
        if x == 7:
            return f"+49 {r.below(80) + 20} {r.digits(7)}"
        if x == 8:
            return f"+33 {r.below(9) + 1} {r.digits(2)} {r.digits(2)} {r.digits(2)} {r.digits(2)}"
        if x == 9:
            return f"0{r.below(9) + 1} {r.digits(2)} {r.digits(2)} {r.digits(2)} {r.digits(2)}"
        if x == 10:
            return f"({a}) {b}-{c} ext. {r.below(900) + 100}"
        return f"+{r.below(90) + 10} {r.digits(3)} {r.digits(3)} {r.digits(3)}"

    def card(self):
        r = self.r
        kind = r.below(4)
        if kind == 0:
            prefix, n = "4", 16
        elif kind == 1:
            prefix, n = str(51 + r.below(5)), 16
        elif kind == 2:
            prefix, n = r.choice(["34", "37"]), 15
        else:
            prefix, n = "6011", 16
        body = prefix + r.digits(n - len(prefix) - 1)
        digits = body + luhn_digit(body)
        sep = r.choice([" ", "-", "", " "])
        if n == 15:
            groups = [digits[:4], digits[4:10], digits[10:]]
        else:
            groups = [digits[i:i + 4] for i in range(0, 16, 4)]
        return sep.join(groups)

    def ssn(self):
        r = self.r
        while True:
            area = r.below(899) + 1
            if area != 666:
                break
        group = r.below(99) + 1
        serial = r.below(9999) + 1
        sep = "-" if r.chance(0.85) else " "
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

    def iban(self):
        r = self.r
        cc, bban = r.choice([
            ("DE", lambda: r.digits(18)),
            ("GB", lambda: "".join(chr(65 + r.below(26)) for _ in range(4)) + r.digits(14)),
            ("FR", lambda: r.digits(10) + "".join(chr(65 + r.below(26)) if r.chance(0.1) else str(r.below(10)) for _ in range(11)) + r.digits(2)),
            ("NL", lambda: "".join(chr(65 + r.below(26)) for _ in range(4)) + r.digits(10)),
            ("ES", lambda: r.digits(20)),
            ("IT", lambda: chr(65 + r.below(26)) + r.digits(10) + r.digits(12)),
            ("BE", lambda: r.digits(12)),
            ("CH", lambda: r.digits(17)),
        ])
        b = bban()
        iban = cc + iban_check(cc, b) + b
        if r.chance(0.5):
            return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def ip(self):
        r = self.r
        if r.chance(0.8):
            first = r.choice([10, 172, 192, 8, 34, 52, 81, 100, 145, 203, 64, 91])
            return f"{first}.{r.below(256)}.{r.below(256)}.{r.below(254) + 1}"
        groups = ["2001", "db8"] + ["%x" % r.below(65536) for _ in range(r.below(3) + 1)]
        if r.chance(0.5):
            return ":".join(groups) + "::" + "%x" % (r.below(65535) + 1)
        return ":".join(groups + ["%x" % r.below(65536) for _ in range(8 - len(groups))])

    def url(self):
        r = self.r
        host = r.choice(["www.example.com", "portal.example.org", "docs.example.net", "shop.example.co.uk",
                         "intranet.corp.example.com", "api.example.io", "example.com", "files.example.de"])
        path = r.choice(["", "/", "/login", "/account/settings", "/docs/getting-started", "/orders/" + r.digits(6),
                         "/u/" + self.first().lower(), "/reset?token=" + r.digits(8), "/search?q=refund+policy"])
        return r.choice(["https://", "http://", "https://", ""]) + host + path if not path == "" else "https://" + host

    def date(self, dob=False):
        r = self.r
        y = r.below(60) + 1950 if dob else r.below(8) + 2019
        m = r.below(12) + 1
        d = r.below(28) + 1
        x = r.below(9)
        if x == 0:
            return f"{m:02d}/{d:02d}/{y}"
        if x == 1:
            return f"{y}-{m:02d}-{d:02d}"
        if x == 2:
            return f"{MONTHS[m - 1]} {d}, {y}"
        if x == 3:
            return f"{d} {MONTHS[m - 1]} {y}"
        if x == 4:
            return f"{d:02d}.{m:02d}.{y}"
        if x == 5:
            return f"{MON3[m - 1]} {d}, {y}"
        if x == 6:
            return f"{d}/{m}/{y}"
        if x == 7:
            return f"{MONTHS[m - 1]} {d}{'st' if d in (1, 21) else 'nd' if d in (2, 22) else 'rd' if d in (3, 23) else 'th'}, {y}"
        return f"{d} {MON3[m - 1]} {y}"

    def secret(self):
        r = self.r
        al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

        def rs(chars, n):
            return "".join(chars[r.below(len(chars))] for _ in range(n))

        x = r.below(6)
        if x == 0:
            return "AKIA" + rs(up, 16)
        if x == 1:
            return "ghp_" + rs(al, 36)
        if x == 2:
            return "sk-" + rs(al, 48)
        if x == 3:
            return "xoxb-" + r.digits(12) + "-" + r.digits(12) + "-" + rs(al, 24)
        if x == 4:
            return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + rs(al, 40) + "." + rs(al + "-_", 43)
        return rs(al + "!@#$%^&*", 20)


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def iban_check(cc, bban):
    s = bban + cc + "00"
    num = "".join(str(int(c, 36)) for c in s)
    return "%02d" % (98 - int(num) % 97)


# ------------------------------------------------------------------ templates
#
# {P} person  {FIRST} given name  {LAST} family name  {T} honorific (no label)
# {CITY} {COUNTRY} {REGION} {ST} state code  {ADDR} full postal address  {STREET}
# {ORG} organisation
# {EMAIL} {PHONE} {CARD} {SSN} {IBAN} {IP} {URL} {DATE} {DOB} {SECRET}
# unlabelled fillers: {JOB} {PRODUCT} {DEPT} {DAY} {MONTH} {NUM} {AMOUNT} {ID} {TIME}

T_CHAT = """\
Hi, my name is {P} and I live in {CITY}. Can you help me write a cover letter?
my name is {P}, i'm from {CITY}, {COUNTRY}
I'm {FIRST}. My sister {FIRST} just moved to {CITY} and I want to visit her in {MONTH}.
Can you draft an email to {P} at {ORG} asking about the {JOB} position?
Write a short bio for {P}, a {JOB} at {ORG} based in {CITY}.
Summarize this: {P} met with {P} from {ORG} on {DAY} to discuss the {PRODUCT} rollout.
Translate to French: "Dear {FIRST}, thank you for your order."
What's the weather like in {CITY} this weekend?
I need a plan for a 5 day trip to {CITY} and {CITY}.
Please rewrite this paragraph so it sounds more professional. {P} from {DEPT} will follow up.
Help me reply to {FIRST}: she asked whether I can join the {ORG} offsite in {CITY}.
my boss {P} keeps asking me to work weekends, how do i say no politely
Who is the CEO of {ORG}?
Tell me about the history of {COUNTRY}.
What are the best restaurants near {ADDR}?
Generate a LinkedIn post congratulating {P} on joining {ORG} as {JOB}.
Can you check my resume? {P}, {EMAIL}, {PHONE}, {CITY}, {REGION}.
I got an email from {EMAIL} claiming to be from {ORG}. Is it a scam?
Write a thank-you note to {T} {LAST} for the help with my application.
My friend {FIRST} {LAST} lives at {ADDR}. Please write her a birthday card.
Explain how {PRODUCT} works in simple terms.
Which is better for a small team, {PRODUCT} or {PRODUCT}?
Plan a meeting with {FIRST}, {FIRST} and {FIRST} next {DAY} at {TIME}.
hey can u tell {FIRST} that the meeting moved to {DAY}
Compare the cost of living in {CITY} and {CITY}.
Is {ORG} hiring in {CITY}?
I'm flying from {CITY} to {CITY} on {DATE}, what should I pack?
My daughter {FIRST} was born in {CITY} on {DOB}.
Can you help me write a complaint to {ORG} about my order {ID}?
{FIRST} said the package from {ORG} never arrived at {ADDR}.
Ask {P} whether the {PRODUCT} license renewal is approved.
Draft a toast for {FIRST} and {FIRST}'s wedding in {CITY}.
The Board asked for a Summary of the Q3 Results by Friday.
Please Review The Attached Invoice And Confirm The Amount.
What does ASAP mean in an email from a manager?
Write a poem about spring in {COUNTRY}.
Who won the match between {ORG} and {ORG}?
How do I reset my password in {PRODUCT}?
List five facts about {CITY}.
i live at {ADDR} and my neighbour's dog barks all night, what can i do
Can you proofread this: "{P} is a dedicated {JOB} with ten years at {ORG}."
Tell {FIRST} I'll call back at {PHONE}.
Convert this to a table: {P}, {CITY}; {P}, {CITY}; {P}, {CITY}
What visa do I need to work for {ORG} in {COUNTRY}?
My grandmother {P} grew up in {CITY}, {REGION}.
Rewrite this message for my manager {FIRST}: I will be out of office from {DATE} to {DATE}.
How should I respond to {P}? He says {ORG} owes him money.
Find me flights from {CITY} to {CITY} for two adults in {MONTH}.
My name's {FIRST}, I'm 34 and I work at {ORG}. How do I ask for a raise?
what do you know about {P}
Summarize the email below.\n\nFrom: {EMAIL}\nHi team, {FIRST} will cover for me while I'm in {CITY}.
Please make this sound friendlier: "{FIRST}, the report was due yesterday."
Create a meal plan for my son {FIRST}, he is allergic to nuts.
I need to cancel my {ORG} subscription, the account is under {P}.
Give me directions from {ADDR} to the nearest hospital.
Who should I contact at {ORG} about a data breach? My details: {P}, {PHONE}.
Is it safe to travel to {COUNTRY} right now? I'm going with {FIRST}.
Help me write a eulogy for my uncle {P} who lived in {CITY} all his life.
Fix the grammar: me and {FIRST} goes to {ORG} every day.
Can you explain this letter from {ORG}? It is addressed to {P}, {ADDR}.
Here is my cover letter draft: Dear Hiring Manager, my name is {P} and I am applying to {ORG}.
"""

T_TICKET = """\
Ticket {ID}: Customer {P} ({EMAIL}) reports that the {PRODUCT} app crashes on login.
Subject: Refund request\\nHi, I'm {P}. I was charged twice for order {ID}. My card ending {NUM} was used. Please call me at {PHONE}.
Customer says her name is {P}, account email {EMAIL}, shipping address {ADDR}.
Caller {P} from {ORG} could not access the portal at {URL}. Escalated to {DEPT}.
Hello Support, my order has not arrived. Ship to: {P}, {ADDR}. Phone {PHONE}.
Issue: user {FIRST} cannot reset password. Last login from {IP} on {DATE}.
Agent note: spoke with {T} {LAST}, verified identity with DOB {DOB} and last four of SSN.
Please update my billing address to {ADDR}. Thanks, {P}
Priority: High. Reporter: {P}. Assignee: {P}. Component: {PRODUCT}. Status: Open.
The customer, {P}, wants to cancel the Premium Plan and get a refund to card {CARD}.
Complaint from {P} about a technician from {ORG} who visited {ADDR} on {DAY}.
Warranty claim for {PRODUCT}, bought at {ORG} in {CITY} on {DATE}. Contact: {EMAIL}
RE: Case {ID} - {P} called again, wants a supervisor. Callback number {PHONE}.
Delivery failed: nobody at {ADDR}. Recipient {P} asked to redeliver on {DAY}.
Hi team, {FIRST} from {ORG} says the API returns 500 since {DATE}. Logs attached.
Resolved: reset MFA for {EMAIL} after a call with {P}.
Please close this ticket, the issue with {PRODUCT} was fixed by {FIRST} in {DEPT}.
New Ticket - Category: Billing - Customer: {ORG} - Contact: {P} <{EMAIL}>
Hi, I moved from {CITY} to {CITY} and need to update the address on my account to {ADDR}.
User {EMAIL} (display name {FIRST}) reported spam from {IP}.
Chat transcript - Agent {FIRST}: How can I help? Customer: this is {P}, my order never came.
Escalation: {ORG} (enterprise customer, {CITY}) threatens to cancel. Owner: {P}.
Replacement device shipped to {P}, {ADDR}, tracking {ID}.
"""

T_HR = """\
HR note: {P} ({JOB}) requested parental leave from {DATE} to {DATE}.
Performance review for {P}, {DEPT}. Manager: {P}. Rating: Exceeds expectations.
Employee {P}, SSN {SSN}, start date {DATE}, salary {AMOUNT}, office: {CITY}.
Offer letter: Dear {P}, we are pleased to offer you the role of {JOB} at {ORG} in {CITY}.
Exit interview with {FIRST} {LAST}: leaving for a job at {ORG} in {CITY}.
{P} reported harassment by a colleague on {DATE}. Witness: {P}. Case handled by {P}.
Emergency contact for {P}: {P} (spouse), {PHONE}.
New hire checklist - {P} - laptop shipped to {ADDR}.
Reference check: {P} worked at {ORG} from 2016 to 2021 as {JOB}.
Relocation approved for {P} from {CITY} to {CITY}, effective {DATE}.
Payroll update: {P}, bank account {IBAN}, effective next {MONTH}.
Interview panel: {P}, {P} and {P}. Candidate: {P}, currently at {ORG}.
{T} {LAST} will replace {T} {LAST} as head of {DEPT} in {MONTH}.
Background check for {P} (DOB {DOB}) came back clear.
Promotion: {P} from {JOB} to {JOB}, reporting to {P}.
{FIRST} has been late five times this month; {FIRST}'s manager {P} asked HR to step in.
Candidate {P} ({EMAIL}, {PHONE}) - applied for {JOB} - location {CITY}.
Onboarding: {P} starts {DATE} in the {CITY} office; buddy: {FIRST}.
"""

T_MED = """\
Patient: {P}. DOB: {DOB}. Address: {ADDR}. Phone: {PHONE}. Insurance: {ORG}.
Intake form - Name: {P} - Date of birth: {DOB} - Emergency contact: {P}, {PHONE}
{P}, {NUM} years old, presents with chest pain. Referred by {T} {LAST} at {ORG}.
Patient {FIRST} {LAST} was seen by {T} {LAST} on {DATE} for a follow-up.
Discharge summary: {P} admitted to {ORG} on {DATE}, discharged {DATE}. PCP: {T} {LAST}.
Allergies: penicillin. Pharmacy: {ORG}, {ADDR}.
mrn {ID}, pt {P}, seen at {ORG} {CITY} clinic, next appt {DAY}
Lab results for {P} (SSN {SSN}) sent to {EMAIL}.
The patient's mother, {P}, reports that he moved from {CITY} last {MONTH}.
Referral: please see {P}, {DOB}, for dermatology consult. Thanks, {T} {LAST}, {ORG}.
Vaccination record: {P}, {CITY}, {REGION}. Administered by nurse {FIRST} on {DATE}.
Pt is a 45 y/o male from {CITY}, works for {ORG}, wife {FIRST} present at visit.
Appointment reminder: {P} with {T} {LAST} at {ORG}, {ADDR}, on {DATE}.
"""

T_BANK = """\
Please transfer {AMOUNT} from my account {IBAN} to {P}.
Hi, this is {P}. My card {CARD} was declined at {ORG} in {CITY} today.
Dispute: charge of {AMOUNT} from {ORG} on {DATE}. Cardholder {P}, card {CARD}.
Wire details - Beneficiary: {P}, IBAN {IBAN}, Bank: {ORG}, {CITY}, {COUNTRY}.
Loan application: {P}, SSN {SSN}, employer {ORG}, annual income {AMOUNT}, address {ADDR}.
Your statement for account ending {NUM} is ready. Contact us at {PHONE}.
I want to close my savings account. Name {P}, date of birth {DOB}, phone {PHONE}.
Suspicious login to online banking from {IP} ({CITY}, {COUNTRY}).
Direct deposit form: {P}, {ORG}, routing {NUM}, account {IBAN}.
Mortgage for {ADDR}: borrowers {P} and {P}. Lender: {ORG}.
Send the invoice to {P}, Accounts Payable, {ORG}, {ADDR}.
Zelle payment of {AMOUNT} to {FIRST} ({PHONE}) for rent.
Card ending {NUM} reported lost by {P} in {CITY} on {DATE}.
Account holder: {P}. Address: {ADDR}. SSN: {SSN}. Card: {CARD}.
Hi {FIRST}, your payment of {AMOUNT} to {ORG} was received on {DATE}.
"""

T_EMAIL = """\
From: {P} <{EMAIL}>\\nTo: {P} <{EMAIL}>\\nSubject: Q3 budget\\n\\nHi {FIRST},\\nplease see the attached numbers before {DAY}.\\nBest,\\n{FIRST}
Dear {T} {LAST},\\n\\nThank you for meeting with us in {CITY}. {ORG} is excited to move forward.\\n\\nKind regards,\\n{P}\\n{JOB}, {ORG}\\n{PHONE}
Hi {FIRST},\\nCan you send the contract to {P} at {ORG}? Her email is {EMAIL}.\\nThanks!
Hello {FIRST} and {FIRST},\\nReminder: the offsite is at {ADDR} on {DATE}.\\nCheers, {FIRST}
{FIRST},\\n\\nI spoke with {P} from {ORG} yesterday. They want a demo of {PRODUCT} next {DAY}.\\n\\n{FIRST}
Good morning {T} {LAST}, I am writing on behalf of {ORG} regarding the invoice sent to {ADDR}.
Hey {FIRST} - quick one: is {P} still at {ORG} or did she move to {ORG}?
-----Original Message-----\\nFrom: {P}\\nSent: {DAY}, {DATE}\\nTo: {P}\\nSubject: RE: visit to {CITY}
Please add {P} ({EMAIL}) to the distribution list for {DEPT}.
Best regards,\\n{P}\\n{ORG}\\n{ADDR}\\nTel: {PHONE}\\n{URL}
Thanks {FIRST}! I'll loop in {FIRST} from {DEPT}.
"""

T_CODE = """\
AWS_ACCESS_KEY_ID={SECRET}
export GITHUB_TOKEN="{SECRET}"
db_password = "{SECRET}"  # TODO ask {FIRST} to rotate this
# Author: {P} <{EMAIL}>\\ndef connect():\\n    return psycopg2.connect(host="{IP}", user="admin", password="{SECRET}")
curl -H "Authorization: Bearer {SECRET}" {URL}
[2024-03-01 12:00:01] INFO login ok user={EMAIL} ip={IP}
ERROR: connection to {IP}:5432 refused (owner: {FIRST})
config = {"api_key": "{SECRET}", "region": "us-east-1", "contact": "{EMAIL}"}
// Maintained by {P} at {ORG}. Do not share the token {SECRET}.
git commit -m "Fix login bug reported by {P}"
Why does this Python code fail? client = OpenAI(api_key="{SECRET}")
Here is my stack trace from {PRODUCT}: NullPointerException at UserService.java:42
SELECT name, email FROM users WHERE city = '{CITY}' AND company = '{ORG}';
INSERT INTO customers VALUES ('{P}', '{EMAIL}', '{PHONE}', '{CITY}');
ssh deploy@{IP} -i ~/.ssh/id_rsa  # {FIRST}'s key
# TODO: move this key to the vault before the release\nAPI_KEY = "{SECRET}"
# FIXME(ops): rotate the password, see ticket {ID}\nPASSWORD = "{SECRET}"
# NOTE: Staging only. Contact {EMAIL} for Production access.
/* Copyright {ORG}. All Rights Reserved. */
Traceback (most recent call last):\n  File "app.py", line 12, in <module>\nKeyError: 'User'
WARN Retrying Request to {URL} (Attempt 3 of 5)
logger.info("Created Account for %s", "{EMAIL}")
{FIRST} reviewed the Pull Request and left a comment about the Database Schema.
Error: Invalid Token for user {FIRST}. Please Sign In Again.
"""

T_MISC = """\
{P} ({JOB}, {ORG}) will speak at the {CITY} conference on {DATE}.
The {ORG} office at {ADDR} is closed on {DAY}.
Congratulations to {P} of {CITY}, winner of this year's award!
{P} and {P} founded {ORG} in {CITY} in 1998.
Meeting notes {DATE}: attendees {P}, {P}, {P}. Action: {FIRST} to follow up with {ORG}.
Send samples to {ORG}, attn {P}, {ADDR}.
The package was left with {FIRST} at the front desk.
Our {CITY} team ({FIRST}, {FIRST}, {FIRST}) shipped the {PRODUCT} integration.
Visitor log: {P}, {ORG}, arrived 9:15, host {P}.
{CITY} and {CITY} are the two largest cities in {COUNTRY}.
{ORG} announced a partnership with {ORG} on {DAY}.
Please mark the ticket as resolved and send the Report to Finance.
Will you bring the slides? May is a busy month for Sales.
Monday's standup is moved to Tuesday at 10am.
Rose and Grant went over the Summer budget with the Marketing team.
I bought a new MacBook Pro and an iPhone at the Apple Store.
The Annual General Meeting will be held in the Main Hall.
Hope you are well. Grace period ends on Friday.
Bill me later for the Premium Plan.
The Director of Operations approved the Travel Policy.
North Face jackets are on sale this Black Friday.
"""


T_WEB = """\
{ORG} said on {DAY} that it would cut 300 jobs at its plant in {CITY}.
{LAST} told reporters in {CITY} that the talks with {COUNTRY} had stalled.
Shares of {ORG} fell 4% after {P}, its chief executive, announced his resignation.
{P}, a spokesman for {ORG}, declined to comment.
The mayor of {CITY}, {P}, said the new bridge will open next {MONTH}.
{LAST}'s comments drew criticism from {ORG} and from lawmakers in {REGION}.
I've been going to this place for years and {FIRST} always takes great care of us.
We had dinner at {ORG} in {CITY} and the service was terrible.
Great hotel, friendly staff, and only ten minutes from downtown {CITY}.
Ask for {FIRST} when you call, she's the best agent they have.
Avoid {ORG} at all costs. Their customer service in {CITY} is a joke.
Posted by {FIRST} on {DATE}: does anyone know a good dentist near {CITY}?
{P} wrote: I think the {ORG} deal is a mistake for {COUNTRY}.
My husband and I flew {ORG} from {CITY} to {CITY} and lost our luggage.
After graduating from {ORG}, {FIRST} moved to {CITY} to work for {ORG}.
The {COUNTRY} government and {ORG} signed an agreement in {CITY} last week.
{ORG}'s new headquarters in {CITY} will employ 2,000 people.
{P}, who grew up in {CITY}, joined {ORG} in 2011.
According to {P} of {ORG}, prices in {REGION} rose sharply.
Thanks to {FIRST} and the whole team at {ORG} for fixing my car so quickly!
The conference in {CITY} was organized by {ORG} and sponsored by {ORG}.
{P} and {P} were married in {CITY}, {REGION} on {DATE}.
Police in {CITY} arrested a man after a robbery at a {ORG} store.
{P} (born {DOB}) is a {COUNTRY} politician and a member of {ORG}.
Flights from {CITY} to {COUNTRY} were cancelled because of the storm.
Hi all, I'm {FIRST} from {CITY}, new to this forum.
{FIRST} {LAST} scored twice as {ORG} beat {ORG} 3-1 in {CITY}.
The museum in {CITY} has a new exhibition on the history of {COUNTRY}.
Does anyone have experience with {ORG}? I'm thinking of switching from {ORG}.
Dear Sir or Madam, I am writing to complain about my stay at your hotel in {CITY}.
Our guide {FIRST} showed us around {CITY} and told us stories about {COUNTRY}.
{LAST} said {ORG} would appeal the ruling.
The report by {ORG} found that unemployment in {COUNTRY} fell to 5%.
I bought this from {ORG} last {MONTH} and it already stopped working.
She studied law at {ORG} before moving to {COUNTRY}.
{P} has been named the new coach of {ORG}.
"We are very happy with the result," said {P}, director of {ORG}.
The flight landed in {CITY} two hours late.
He was born in {CITY} in 1975 and moved to {CITY} as a child.
Rain is expected across {REGION} and northern {COUNTRY} this weekend.
Call {ORG} customer service and ask for a refund.
I work for {ORG} as a {JOB} in {CITY}.
The {ORG} branch on {STREET} is open until 6pm.
"""




T_NEG = """\
Happy Thanksgiving to everyone on the Finance team!
We celebrate Christmas and Easter with the whole family.
The French and German delegations met before the Summit.
She speaks English, Spanish and a little Mandarin.
The American market grew faster than the European one last Quarter.
FYI the HR portal is down, IT is looking into it ASAP.
Agenda: 1. Welcome 2. Quarterly Business Review 3. Any Other Business
Please send me the PDF of the Annual Report and the Q4 Forecast.
Our CEO and CFO will present the Strategic Plan at the Town Hall.
Is Black Friday or Cyber Monday better for buying a new TV?
The Supreme Court ruling affects every State Agency.
I'm a Buddhist and my husband is Catholic.
Ramadan starts next week, so the Iftar dinner is on Friday.
The Olympic Games and the World Cup draw huge audiences.
Read Chapter 3 of the Employee Handbook before Monday.
The Python script reads a CSV file and writes JSON to the API.
Click Settings, then Privacy, then Delete Account.
The Marketing Manager asked for a New Logo in Dark Blue.
Our Spring Sale ends on Sunday at Midnight.
The Board of Directors approved the Budget for the Fiscal Year.
Kindly Do The Needful And Revert At The Earliest.
Dear Customer, Your Order Has Been Shipped.
Section 4.2 of the Terms of Service covers Refunds.
Use the Admin Console to reset the Password for the Service Account.
The Italian restaurant near the office has great Neapolitan pizza.
She is a Canadian citizen with a Japanese mother.
I watched the Super Bowl with {FIRST} and her Brazilian friends.
The Chinese New Year party is at {ORG}'s office in {CITY}.
Thank you for contacting Customer Support. Your Ticket Number is {ID}.
Subject: Weekly Status Update - Project Phoenix
Title: Senior Data Engineer - Remote - Full Time
"""

# Source code, build output and configuration, as pasted into prompts for
# code assistants: the identifiers are ordinary words in snake_case,
# camelCase, PascalCase and dotted chains, which are not names ("get_user",
# "User.objects", "root", "len").  Generated from our own word lists;
# {CODE} is a few lines, {CODE_LINE} one, {ERRLINE} an error message.
CODE_NOUNS = """user users name id item items order orders total count price amount data result results
config options request response client server session token value values key keys index path file
files line lines buffer size len text msg message error errors status code record records row rows
table query field fields node tree list map cache queue event events handler callback context ctx
env state model view page url host port timeout account customer invoice payment address city
email phone date time timestamp logger log db conn cursor parent child children root left right head
tail next prev src dst tmp obj args kwargs params headers body payload batch chunk job task worker
pool thread lock stream reader writer parser tokens span spans label labels score matrix vector
weights layer input output target loss grad offset limit page_size owner group role permission
tenant profile avatar title summary content comment post tag tags category product cart stock
report chart metric metrics counter histogram config_path base_url api_key retries
i j k n m s c x y p q v b l g rc ret err buf ptr len max min idx cnt num str fd nbytes""".split()
CODE_VERBS = """get set add remove update delete create find load save parse read write send fetch build
make run start stop check validate compute calc handle process render format convert init reset
clear merge split sort filter apply open close connect flush push pop emit encode decode hash sign
verify lookup resolve register dispatch schedule retry normalize refresh upload download export
import sync notify publish subscribe""".split()
CODE_KINDS = """Service Manager Handler Controller Repository Factory Builder Client Config Error Exception
Request Response Model View Test Util Helper Provider Adapter Parser Reader Writer Cache Store Queue
Event Context Options Result Serializer Validator Middleware Router Schema Entity Dto Mapper""".split()
CODE_LIBS = """os.path.join json.loads json.dumps np.array np.zeros pd.read_csv pd.DataFrame console.log
console.error Math.max Math.floor Object.keys Object.assign JSON.stringify JSON.parse Promise.all
Array.from String.format fmt.Println fmt.Sprintf strings.Split errors.New http.Get time.Sleep
requests.get requests.post re.compile datetime.now time.sleep logging.getLogger self.assertEqual
self.assertTrue unittest.TestCase torch.tensor torch.nn.Linear plt.plot sys.exit subprocess.run
asyncio.gather itertools.chain collections.defaultdict Optional.ofNullable List.of System.out.println
Collections.sort Arrays.asList strlen memcpy malloc free printf snprintf assert len max min
isinstance sorted range enumerate zip print str int dict list set tuple getattr hasattr""".split()
CODE_MSGS = ["not found", "Invalid Token", "Permission denied", "Connection Refused", "Bad Request",
             "Internal Server Error", "missing required field", "Timeout Exceeded", "Unauthorized",
             "Record Not Found", "Invalid Input", "Out of memory", "Already Exists", "Not Implemented"]


class CodeGen:
    """Lines of code in several languages, from the word lists above."""

    def __init__(self, rng):
        self.r = rng

    def noun(self):
        return self.r.choice(CODE_NOUNS)

    def verb(self):
        return self.r.choice(CODE_VERBS)

    def snake(self):
        r = self.r
        k = r.below(3)
        if k == 0:
            return self.noun()
        if k == 1:
            return self.verb() + "_" + self.noun()
        return self.noun() + "_" + self.noun()

    def camel(self):
        w = self.snake().split("_")
        return w[0] + "".join(x.capitalize() for x in w[1:])

    def pascal(self):
        r = self.r
        base = "".join(x.capitalize() for x in self.snake().split("_"))
        return base + (r.choice(CODE_KINDS) if r.chance(0.6) else "")

    def ident(self):
        r = self.r
        k = r.below(10)
        if k < 4:
            return self.snake()
        if k < 7:
            return self.camel()
        if k < 8:
            return self.snake().upper()
        return self.r.choice(["self", "this", "ctx", "req", "res", "s", "p", "obj"]) + "." + self.snake()

    def args(self):
        return ", ".join(self.ident() for _ in range(self.r.below(4)))

    def call(self):
        r = self.r
        k = r.below(4)
        if k == 0:
            return r.choice(CODE_LIBS) + "(" + self.args() + ")"
        if k == 1:
            return self.pascal() + "." + self.camel() + "(" + self.args() + ")"
        if k == 2:
            return self.ident() + "." + self.verb() + "(" + self.args() + ")"
        return self.verb() + "_" + self.noun() + "(" + self.args() + ")"

    def msg(self):
        return self.r.choice(CODE_MSGS)

    def py(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"def {self.verb()}_{n()}({self.args()}):",
            lambda: f"    return {self.call()}",
            lambda: f"{self.snake()} = {self.call()}",
            lambda: f"for {n()} in {self.ident()}:",
            lambda: f"if {self.ident()} is None:",
            lambda: f"class {self.pascal()}({self.pascal()}):",
            lambda: f"from {n()}.{n()} import {self.pascal()}",
            lambda: f"import {n()}",
            lambda: f"        self.{n()} = {n()}",
            lambda: f'    raise {self.pascal()}Error("{self.msg()}")',
            lambda: f"with open({self.ident()}) as f:",
            lambda: f"{n()}s = [{n()}.{n()} for {n()} in {self.ident()} if {n()}.{n()}]",
            lambda: f"@{r.choice(['property', 'staticmethod', 'pytest.fixture', 'app.route'])}",
            lambda: f"{self.pascal()}.objects.filter({n()}={n()}).first()",
        ])()

    def js(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"const {self.camel()} = await {self.camel()}({self.args()});",
            lambda: f"function {self.camel()}({self.args()}) {{",
            lambda: f"export default class {self.pascal()} extends {self.pascal()} {{",
            lambda: f"{self.ident()}.{self.verb()}({self.args()});",
            lambda: f"  return {self.ident()} === {self.ident()};",
            lambda: f"import {{ {self.pascal()} }} from './{n()}';",
            lambda: f"let {self.camel()} = {{ {n()}: {n()}, {n()}: null }};",
            lambda: f"}} catch (err) {{ console.error('{self.msg()}', err); }}",
        ])()

    def c(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"static int {self.snake()}(struct {n()} *{n()}, size_t {n()})",
            lambda: f"    if ({n()}->{n()} == NULL)",
            lambda: "        return -1;",
            lambda: f"    memcpy({n()}, {n()}, {n()}_len);",
            lambda: f"#include <{n()}.h>",
            lambda: f"    {n()}->{n()} = {self.snake()}({self.args()});",
            lambda: f"typedef struct {n()} {self.pascal()};",
            lambda: f'    {r.choice(["printf(", "fprintf(stderr, ", "snprintf(buf, sizeof(buf), "])}"{n()}=%d {n()}=%s\\n", {n()}->{n()}, {n()});',
            lambda: f"    for (size_t {r.choice('ijkn')} = 0; {r.choice('ijkn')} < {n()}; {r.choice('ijkn')}++)",
            lambda: f"    {n()} = {n()} + {r.choice('ijknm')} * {r.choice(['sizeof(*p)', '2', 'len', 'n'])};",
        ])()

    def go(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"func ({n()[0]} *{self.pascal()}) {self.pascal()}({self.args()}) error {{",
            lambda: "\tif err != nil {",
            lambda: f"\t{self.camel()} := {r.choice(['fmt', 'strings', 'http', 'json', 'os'])}.{self.pascal()}({self.args()})",
            lambda: f"type {self.pascal()} struct {{",
        ])()

    def java(self):
        r = self.r
        return r.choice([
            lambda: f"public class {self.pascal()} implements {self.pascal()} {{",
            lambda: f"    private final {self.pascal()} {self.camel()};",
            lambda: "    @Override",
            lambda: f"    public {self.pascal()} {self.camel()}({self.pascal()} {self.camel()}) {{",
            lambda: f"        return {self.camel()}.{self.camel()}();",
        ])()

    def sql(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"SELECT {n()}, {n()}_id FROM {n()}s WHERE {n()} = ? AND {n()}_count > 10;",
            lambda: f"CREATE TABLE {n()}s ({n()}_id INTEGER PRIMARY KEY, {n()} TEXT NOT NULL);",
            lambda: f"UPDATE {n()}s SET {n()} = {n()} + 1 WHERE {n()}_id = $1;",
            lambda: f"SELECT COUNT(*) FROM {self.pascal()} GROUP BY {self.pascal()} ORDER BY {n()} DESC;",
        ])()

    def shell(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"docker run -p 8080:80 {n()}/{n()}:latest",
            lambda: f"kubectl get pods -n {n()}-{n()}",
            lambda: f"git checkout -b feature/{n()}-{n()}",
            lambda: f"npm install --save {n()}-{n()}",
            lambda: f"pip install {n()}",
            lambda: f"$ make {n()} && ./{n()} --{n()}={n()}",
        ])()

    def line(self):
        return self.r.choice([self.py, self.py, self.js, self.js, self.c, self.go, self.java, self.sql,
                              self.shell])()

    def error(self):
        r, n = self.r, self.noun
        return r.choice([
            lambda: f"TypeError: Cannot read properties of undefined (reading '{self.camel()}')",
            lambda: f"{self.pascal()}Exception: {self.msg()} at {self.pascal()}.{self.camel()}({self.pascal()}.java:{r.below(400) + 1})",
            lambda: f"AttributeError: '{self.pascal()}' object has no attribute '{self.snake()}'",
            lambda: f"KeyError: '{self.snake()}'",
            lambda: f"NameError: name '{self.snake()}' is not defined",
            lambda: f"panic: runtime error: index out of range [{r.below(9)}] with length {r.below(9)}",
            lambda: f"error[E0425]: cannot find value `{self.snake()}` in this scope",
            lambda: f'  File "{n()}/{n()}.py", line {r.below(900) + 1}, in {self.snake()}',
            lambda: f"{self.snake()}.c:{r.below(900) + 1}: warning: unused variable '{self.snake()}'",
        ])()

    def block(self):
        r = self.r
        pick = r.choice([self.py, self.js, self.c, self.go, self.java, self.sql])
        return "\n".join(pick() for _ in range(2 + r.below(5)))


T_SRC = """\
{CODE}
Why does this fail?\\n{CODE}
Can you refactor this function?\\n\\n{CODE}
Here is my code:\\n```\\n{CODE}\\n```\\nIt throws an error when the list is empty.
{CODE}\\n# reviewed by {P}
Explain what this line does: {CODE_LINE}
I get this error: {ERRLINE}
fix the bug in {CODE_LINE}
{CODE}\\n// questions to {EMAIL}
what does {CODE_LINE} return if the input is empty?
{ERRLINE}\\n{ERRLINE}
{CODE}\\n{ERRLINE}
write a unit test for {CODE_LINE}
# Author: {P}\\n{CODE}
{CODE_LINE}  # TODO({FIRST}): handle the timeout
convert this to typescript:\\n{CODE}
{CODE}\\nThis runs on our {CITY} servers but not in {CITY}.
"""

DOMAINS = [(T_CHAT, 26), (T_TICKET, 12), (T_HR, 9), (T_MED, 8), (T_BANK, 9), (T_EMAIL, 11), (T_CODE, 6), (T_MISC, 7), (T_WEB, 20), (T_NEG, 6),
           (T_SRC, 12)]

LABEL_OF = {
    "P": "PERSON", "FIRST": "PERSON", "LAST": "PERSON",
    "CITY": "LOCATION", "COUNTRY": "LOCATION", "REGION": "LOCATION", "ST": "LOCATION", "ADDR": "LOCATION", "STREET": "LOCATION",
    "ORG": "ORGANIZATION",
    "EMAIL": "EMAIL", "PHONE": "PHONE", "CARD": "CREDIT_CARD", "SSN": "US_SSN", "IBAN": "IBAN", "IP": "IP_ADDRESS",
    "URL": "URL", "DATE": "DATE", "DOB": "DATE", "SECRET": "SECRET",
}
MODEL_LABELS = ("PERSON", "LOCATION", "ORGANIZATION")
RAW_FILLS = ("CODE", "CODE_LINE", "ERRLINE")


def parse_templates(block):
    out = []
    for line in block.splitlines():
        if not line.strip():
            continue
        line = line.replace("\\n", "\n")
        parts = []
        i = 0
        while i < len(line):
            j = line.find("{", i)
            if j < 0:
                parts.append(("", line[i:]))
                break
            k = line.find("}", j)
            name = line[j + 1:k]
            if not name.isupper() or k < 0:
                parts.append(("", line[i:j + 1]))
                i = j + 1
                continue
            if j > i:
                parts.append(("", line[i:j]))
            parts.append((name, None))
            i = k + 1
        out.append(parts)
    return out


class Sampler:
    def __init__(self, lists, rng, split):
        self.g = Gen(lists, rng)
        self.r = rng
        self.code = CodeGen(rng)
        self.domains = []
        for b, w in DOMAINS:
            ts = parse_templates(b)
            ts = [t for i, t in enumerate(ts) if (i % 5 == 2) == (split == "dev")]
            self.domains.append((ts, w))
        self.dpool = pool(list(range(len(self.domains))), [w for _, w in self.domains])

    def fill(self, name):
        g, r = self.g, self.r
        if name == "CODE":
            return self.code.block()
        if name == "CODE_LINE":
            return self.code.line()
        if name == "ERRLINE":
            return self.code.error()
        if name == "P":
            return g.person()
        if name == "FIRST":
            return g.first()
        if name == "LAST":
            return g.last()
        if name == "T":
            return r.choice(TITLES)
        if name == "CITY":
            return g.city()
        if name == "COUNTRY":
            return g.country()
        if name == "REGION":
            return g.region()
        if name == "ST":
            return g.state_code()
        if name == "ADDR":
            return g.address()
        if name == "STREET":
            return g.us_street()
        if name == "ORG":
            return g.org()
        if name == "EMAIL":
            return g.email()
        if name == "PHONE":
            return g.phone()
        if name == "CARD":
            return g.card()
        if name == "SSN":
            return g.ssn()
        if name == "IBAN":
            return g.iban()
        if name == "IP":
            return g.ip()
        if name == "URL":
            return g.url()
        if name == "DATE":
            return g.date()
        if name == "DOB":
            return g.date(dob=True)
        if name == "SECRET":
            return g.secret()
        if name == "JOB":
            return r.choice(JOBS)
        if name == "PRODUCT":
            return r.choice(PRODUCTS)
        if name == "DEPT":
            return r.choice(DEPTS)
        if name == "DAY":
            return r.choice(WEEKDAYS)
        if name == "MONTH":
            return r.choice(MONTHS)
        if name == "NUM":
            return str(r.below(9000) + 10)
        if name == "AMOUNT":
            return r.choice(["$", "€", "£", "USD ", ""]) + f"{r.below(20000) + 5:,}" + (".00" if r.chance(0.3) else "")
        if name == "ID":
            return r.choice(["#", "", "TCK-", "ORD-", "CS"]) + r.digits(6)
        if name == "TIME":
            return r.choice(["9am", "10:30", "2 pm", "noon", "4:15 PM", "11:00"])
        raise KeyError(name)

    def one(self, casing):
        """One template filled: (text, spans) with code-point offsets."""
        r = self.r
        templates = self.domains[r.wchoice(self.dpool)][0]
        parts = r.choice(templates)
        text, spans = "", []
        lower_names = casing == "names_lower"
        for name, lit in parts:
            if not name:
                seg = lit
                if casing == "lower":
                    seg = seg.lower()
                elif casing == "upper":
                    seg = seg.upper()
                elif casing == "title":
                    seg = " ".join(w[:1].upper() + w[1:] for w in seg.split(" "))
                text += seg
                continue
            val = self.fill(name)
            label = LABEL_OF.get(name)
            if name in RAW_FILLS:
                pass  # code keeps its case: identifiers are case-sensitive
            elif label in MODEL_LABELS or label is None:
                if casing == "lower" or (lower_names and label in MODEL_LABELS):
                    val = val.lower()
                elif casing == "upper":
                    val = val.upper()
            if label:
                prev = spans[-1] if spans else None
                if (prev and label == "PERSON" and prev["label"] == "PERSON" and
                        prev["end"] == len(text) - 1 and text[-1] == " "):
                    # "{FIRST} {LAST}" is one name
                    prev["end"] = len(text) + len(val)
                else:
                    spans.append({"start": len(text), "end": len(text) + len(val), "label": label})
            text += val
        return text, spans

    def doc(self):
        r = self.r
        x = r.below(100)
        casing = "normal"
        if x < 12:
            casing = "lower"
        elif x < 15:
            casing = "upper"
        elif x < 18:
            casing = "title"
        elif x < 24:
            casing = "names_lower"
        k = 1 if r.chance(0.75) else 2 + r.below(2)
        text, spans = "", []
        for i in range(k):
            t, s = self.one(casing)
            if i:
                sep = r.choice([" ", "\n", "\n\n", " "])
                text += sep
            off = len(text)
            for sp in s:
                spans.append({"start": sp["start"] + off, "end": sp["end"] + off, "label": sp["label"]})
            text += t
        if r.chance(0.1) and text.endswith("."):
            text = text[:-1]
            for sp in spans:
                sp["end"] = min(sp["end"], len(text))
        return {"text": text, "spans": spans}


def common_words(btc):
    import collections
    o, e = collections.Counter(), collections.Counter()
    with open(btc, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for t, g in zip(d["tokens"], d["tags"]):
                w = t.lower()
                if not (w.isalpha() and w.isascii()):
                    continue
                (o if g == "O" else e)[w] += 1
    return sorted(w for w, c in o.items() if c >= 3 and e[w] * 10 < c)


def code_sample(paths, seed=1):
    """Snippets of 1-4 lines of real source code (the files given, which are
    ours: this repository's), as JSON lines with no gold spans.  They hold
    no personal data but a few test fixtures, so nearly every span a model
    finds in them is a false positive: `make model-eval` counts them.  The
    generator's code templates never read these files."""
    lines = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if len(line) > 20 and not line.startswith(("#", "/*", "*", "//", '"""')):
                    lines.append(line)
    r = Rng(seed)
    for i in range(len(lines) - 1, 0, -1):  # Fisher-Yates, our generator
        j = r.below(i + 1)
        lines[i], lines[j] = lines[j], lines[i]
    i = 0
    while i < len(lines):
        k = 1 + r.below(4)
        yield {"text": "\n".join(lines[i:i + k]), "spans": []}
        i += k


def clean_btc(path):
    """The BTC with @-mentions unlabelled: a lone "@" or a user handle is
    labelled inconsistently in the corpus (as PERSON, ORGANIZATION or not
    at all) and is a user name, not a name in running text, so the model
    learns them as O.  Hashtags keep their labels."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            t = d["text"]
            keep = []
            for s in d["spans"]:
                v = t[s["start"]:s["end"]]
                if v.startswith("@") or t[max(0, s["start"] - 2):s["start"]] == "@ " or \
                        t[max(0, s["start"] - 1):s["start"]] == "@":
                    continue
                keep.append({"start": s["start"], "end": s["end"], "label": s["label"]})
            yield {"text": t, "spans": keep}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--split", choices=("train", "dev"), default="train")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("cmd", nargs="*")
    a = ap.parse_args()
    if a.cmd[:1] == ["clean-btc"]:
        lower = a.cmd[2:3] == ["lower"]
        for d in clean_btc(a.cmd[1]):
            if lower:
                # length-preserving: a character whose lower case is longer stays
                d["text"] = "".join(c.lower() if len(c.lower()) == 1 else c for c in d["text"])
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        return
    if a.cmd[:1] == ["code-sample"]:
        for d in code_sample(a.cmd[1:]):
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        return
    if a.cmd[:1] == ["common-words"]:
        for w in common_words(a.cmd[1]):
            print(w)
        return
    seed = a.seed * 2 + (1 if a.split == "dev" else 0)
    s = Sampler(Lists(a.data, a.split), Rng(seed), a.split)
    out = sys.stdout
    for _ in range(a.n):
        out.write(json.dumps(s.doc(), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
