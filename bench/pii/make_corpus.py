"""Generate the labelled PII accuracy corpus (JSONL) for `custos scan` and its peers.

Each line: {"text": "...", "entities": [{"type": "EMAIL", "start": 5, "end": 19}, ...]}
with byte offsets into the UTF-8 text (as `custos scan --format json` reports them).
Values come from Faker (nl_NL and en_US); licence plates, VINs and KvK numbers are built
here by their official rules. About a third of the lines are PII-free distractors: order
numbers, version strings, 9-digit numbers that fail the 11-check, IBAN-like strings with bad
checksums, invoice dates, prices, hashes.

    bench/pii/.venv/bin/python bench/pii/make_corpus.py --lines 3000 --seed 8 \
        --out crates/pii/tests/data/pii_corpus.jsonl
"""
import argparse
import json
import random
import string

from faker import Faker

PLATE_LETTERS = "BDFGHJKLMNPRSTVWXZ"
SIDECODES = [
    "LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D",
    "D-LLL-DD", "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
]
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_VALUES = {**{str(d): d for d in range(10)},
              **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
              **dict(zip("STUVWXYZ", range(2, 10)))}
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
MONTHS_NL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
             "september", "oktober", "november", "december"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.nl = Faker("nl_NL")
        self.en = Faker("en_US")
        self.gb = Faker("en_GB")
        self.de = Faker("de_DE")
        for i, f in enumerate((self.nl, self.en, self.gb, self.de)):
            f.seed_instance(seed + i)

    def pick(self, *xs):
        return self.r.choice(xs)

    # --- values -----------------------------------------------------------------------
    def email(self):
        return self.pick(self.nl, self.en).email()

    def phone(self):
        r = self.r
        kind = r.randrange(6)
        if kind == 0:
            return self.nl.phone_number()
        d = "".join(r.choice(string.digits) for _ in range(8))
        if kind == 1:
            return self.pick(f"06-{d}", f"06 {d[:4]} {d[4:]}", f"06{d}", f"+31 6 {d}", f"+31 6 {d[:4]} {d[4:]}", f"+316{d}")
        if kind == 2:
            area = self.pick("020", "010", "030", "070", "040", "050", "024", "026", "043", "053")
            loc = "".join(r.choice(string.digits[1:]) for _ in range(7))
            return self.pick(f"{area}-{loc}", f"({area}) {loc[:3]} {loc[3:]}", f"{area} {loc[:3]} {loc[3:]}", f"+31 {area[1:]} {loc}", f"+31 (0){area[1:]} {loc}")
        if kind == 3:
            n = "".join(r.choice(string.digits) for _ in range(7))
            return f"+1 {r.randint(201, 989)}-{n[:3]}-{n[3:]}"
        if kind == 4:
            return self.pick(f"+44 20 {d[:4]} {d[4:]}", f"+49 30 {d}", f"+32 2 {d[:3]} {d[3:5]} {d[5:]}", f"+33 6 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}")
        return f"+31 6 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"

    def iban(self):
        iban = self.pick(self.nl, self.nl, self.gb, self.de).iban()
        if self.r.random() < 0.5:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def bsn(self):
        v = self.nl.ssn()
        return v if self.r.random() < 0.85 else f"{v[:4]}.{v[4:6]}.{v[6:]}"

    def kvk(self):
        return "".join(self.r.choice(string.digits) for _ in range(8))

    def card(self):
        n = self.en.credit_card_number(card_type=self.pick("visa16", "mastercard", "amex", "discover", "jcb16", "visa16"))
        if self.r.random() < 0.5 and len(n) == 16:
            n = self.pick(" ", "-").join(n[i:i + 4] for i in range(0, 16, 4))
        return n

    def ip(self):
        k = self.r.randrange(4)
        if k == 0:
            return self.en.ipv4_private()
        if k == 3:
            return self.en.ipv6()
        return self.en.ipv4_public()

    def postcode(self):
        while True:
            p = self.nl.postcode().replace(" ", "")
            if p[-2:] not in ("SA", "SD", "SS"):
                return p if self.r.random() < 0.5 else f"{p[:4]} {p[4:]}"

    def plate(self):
        code = self.r.choice(SIDECODES)
        return "".join(self.r.choice(PLATE_LETTERS) if c == "L" else self.r.choice(string.digits) if c == "D" else c for c in code)

    def vin(self):
        while True:
            v = [self.r.choice(VIN_CHARS) for _ in range(17)]
            if self.r.random() < 0.7:
                total = sum(VIN_VALUES[c] * w for c, w in zip(v, VIN_WEIGHTS))
                v[8] = "X" if total % 11 == 10 else str(total % 11)
            s = "".join(v)
            if sum(c.isalpha() for c in s) >= 2 and sum(c.isdigit() for c in s) >= 3:
                return s, v[8] == self._check(s)

    def _check(self, s):
        total = sum(VIN_VALUES[c] * w for c, w in zip(s, VIN_WEIGHTS))
        return "X" if total % 11 == 10 else str(total % 11)

    def dob(self, lang):
        d = self.nl.date_of_birth(minimum_age=1, maximum_age=95)
        if lang == "nl":
            return self.pick(d.strftime("%d-%m-%Y"), f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}", d.strftime("%Y-%m-%d"), d.strftime("%d/%m/%Y"))
        return self.pick(f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}", d.strftime("%Y-%m-%d"), d.strftime("%d/%m/%Y"), f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}")

    def person(self, lang):
        f = self.nl if lang == "nl" else self.en
        return f"{f.first_name()} {f.last_name()}"

    def url(self):
        tok = "".join(self.r.choice(string.ascii_lowercase + string.digits) for _ in range(16))
        user = self.en.user_name()
        host = self.pick("app.example.nl", "portal.example.com", "mijn.example.nl", "shop.example.org")
        return self.pick(
            f"https://{host}/reset?token={tok}",
            f"https://{host}/users/{user}/profile",
            f"https://{host}/account?email={user}%40example.com",
            f"https://{host}/unsubscribe/{tok}",
            f"http://{host}/login?user={user}&session={tok}",
            f"https://{host}/klant/{self.r.randint(10000, 99999)}",
        )

    # --- PII-free values ------------------------------------------------------------------
    def bad_bsn(self):
        while True:
            v = "".join(self.r.choice(string.digits) for _ in range(9))
            s = sum((9 - i) * int(c) for i, c in enumerate(v[:8])) - int(v[8])
            if s % 11 != 0:
                return v

    def bad_iban(self):
        good = self.nl.iban()
        last = good[-1]
        return good[:-1] + self.r.choice([d for d in string.digits if d != last])


def template(g, lang):
    """One line: a list of text pieces and (type, value) pairs."""
    nl = lang == "nl"
    r = g.r
    T = []
    if nl:
        T = [
            lambda: ["Beste ", ("PERSON", g.person("nl")), ", uw afspraak is bevestigd."],
            lambda: ["Naam: ", ("PERSON", g.person("nl")), " | e-mail: ", ("EMAIL", g.email()), " | tel: ", ("PHONE", g.phone())],
            lambda: ["Klant ", ("PERSON", g.person("nl")), " belde vanaf ", ("PHONE", g.phone()), " over zijn factuur."],
            lambda: ["Graag overmaken naar IBAN ", ("IBAN", g.iban()), " t.n.v. ", ("PERSON", g.person("nl")), "."],
            lambda: ["BSN: ", ("BSN", g.bsn()), ", geboortedatum ", ("DATE_OF_BIRTH", g.dob("nl"))],
            lambda: ["Het burgerservicenummer van de aanvrager is ", ("BSN", g.bsn()), "."],
            lambda: ["Adres: ", g.nl.street_address(), ", ", ("POSTCODE_NL", g.postcode()), " ", g.nl.city()],
            lambda: ["Woonachtig ", g.nl.street_address(), ", ", ("POSTCODE_NL", g.postcode()), " ", g.nl.city(), ", geboren op ", ("DATE_OF_BIRTH", g.dob("nl"))],
            lambda: ["Ingeschreven bij de KvK onder nummer ", ("KVK", g.kvk()), "."],
            lambda: ["KvK-nummer: ", ("KVK", g.kvk()), " | btw NL", str(r.randint(100000000, 999999999)), "B01"],
            lambda: ["Auto met kenteken ", ("LICENSE_PLATE_NL", g.plate()), " stond fout geparkeerd."],
            lambda: ["Voertuig ", ("LICENSE_PLATE_NL", g.plate()), ", chassisnummer (VIN) ", ("VIN", g.vin()[0])],
            lambda: ["Betaald met creditcard ", ("CREDIT_CARD", g.card()), " op ", g.nl.date_this_year().strftime("%d-%m-%Y"), "."],
            lambda: ["Mail ", ("PERSON", g.person("nl")), " op ", ("EMAIL", g.email()), " of bel ", ("PHONE", g.phone()), "."],
            lambda: ["Wachtwoord herstellen via ", ("URL", g.url()), " (24 uur geldig)."],
            lambda: ["Mevr. ", ("PERSON", g.person("nl")), " is verhuisd naar ", ("POSTCODE_NL", g.postcode()), " ", g.nl.city(), "."],
            # Harder: a name opening the line, no context word; particles; geb.; +31-6 form.
            lambda: [("PERSON", g.person("nl")), " heeft gisteren gebeld over de levering."],
            lambda: ["Ik heb gesproken met ", ("PERSON", g.person("nl")), " van de afdeling inkoop."],
            lambda: ["geb. ", ("DATE_OF_BIRTH", g.dob("nl")), " te ", g.nl.city(), ", tel. ", ("PHONE", "+31-6-" + "".join(r.choice(string.digits) for _ in range(8)))],
            lambda: ["Leverancier ", g.nl.company(), " (KvK ", ("KVK", g.kvk()), ") stuurt de factuur naar ", ("EMAIL", g.email()), "."],
        ]
    else:
        T = [
            lambda: ["Dear ", ("PERSON", g.person("en")), ", thank you for your order."],
            lambda: ["Customer ", ("PERSON", g.person("en")), " (", ("EMAIL", g.email()), ") called from ", ("PHONE", g.phone()), "."],
            lambda: ["Contact: ", ("PERSON", g.person("en")), ", phone ", ("PHONE", g.phone())],
            lambda: ["Payment card ", ("CREDIT_CARD", g.card()), " was declined."],
            lambda: ["Date of birth: ", ("DATE_OF_BIRTH", g.dob("en")), ", name: ", ("PERSON", g.person("en"))],
            lambda: ["Please wire the amount to account ", ("IBAN", g.iban()), "."],
            lambda: ["Vehicle identification number ", ("VIN", g.vin()[0]), " registered to ", ("PERSON", g.person("en")), "."],
            lambda: ["Registered with the Chamber of Commerce (KvK) under ", ("KVK", g.kvk()), "."],
            lambda: ["Unsubscribe: ", ("URL", g.url())],
            lambda: ["Signed by ", ("PERSON", g.person("en")), " on ", g.en.date_this_year().strftime("%B %d, %Y"), "."],
            lambda: ["born ", ("DATE_OF_BIRTH", g.dob("en")), " in ", g.en.city(), "; contact ", ("EMAIL", g.email())],
            lambda: [("PERSON", g.person("en")), " approved the refund for order ", str(r.randint(100000, 999999)), "."],
            lambda: ["DOB: ", ("DATE_OF_BIRTH", g.dob("en")), " | SSN on file | client IP ", ("IP_ADDRESS", g.ip())],
            lambda: ["Escalated by ", ("PERSON", g.person("en")), " at ", g.en.company(), ", reachable on ", ("PHONE", g.phone()), "."],
        ]
    logs = [
        lambda: [("IP_ADDRESS", g.ip()), f' - - [{r.randint(10, 28)}/Nov/2026:0{r.randint(0, 9)}:1{r.randint(0, 9)}:22 +0000] "GET /api/v1/orders/{r.randint(1000, 99999)} HTTP/1.1" 200 {r.randint(100, 9999)}'],
        lambda: [f"2026-11-{r.randint(10, 28)}T0{r.randint(0, 9)}:12:0{r.randint(0, 9)}Z INFO login ok user=", ("EMAIL", g.email()), " ip=", ("IP_ADDRESS", g.ip())],
        lambda: [f'{{"level":"warn","ts":"2026-11-2{r.randint(0, 8)}T10:00:00Z","msg":"payment failed","iban":"', ("IBAN", g.iban().replace(" ", "")), '","amount":', str(r.randint(1, 999)), "}"],
        lambda: [f"2026-11-{r.randint(10, 28)} 12:00:01 ERROR sms to ", ("PHONE", g.phone()), f" failed: timeout after {r.randint(1, 60)}s"],
        lambda: [f'{{"event":"signup","email":"', ("EMAIL", g.email()), '","client_ip":"', ("IP_ADDRESS", g.ip()), '"}'],
    ]
    distract = [
        lambda: [f"Ordernummer {g.bad_bsn()} is verzonden, track & trace 3S{''.join(r.choice(string.ascii_uppercase) for _ in range(4))}{r.randint(1000000, 9999999)}."],
        lambda: [f"Order {g.bad_bsn()} shipped; invoice INV-{r.randint(2020, 2026)}-{r.randint(1000, 99999)}."],
        lambda: [f"Upgrade naar versie {r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)} voltooid (build {r.randint(1000, 9999)})."],
        lambda: [f"release v{r.randint(1, 5)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)} deployed at 12:{r.randint(10, 59)}:{r.randint(10, 59)}"],
        lambda: [f"Controle: {g.bad_iban()} is geen geldig rekeningnummer (checksum fout)."],
        lambda: [f"Factuurdatum {g.nl.date_this_decade().strftime('%d-%m-%Y')}, totaal EUR {r.randint(10, 9999)},{r.randint(10, 99)}"],
        lambda: [f"Het pakket weegt {r.randint(1, 30)},{r.randint(0, 9)} kg en kost € {r.randint(5, 500)},{r.randint(10, 99)}."],
        lambda: [f"commit {''.join(r.choice('0123456789abcdef') for _ in range(40))} merged into main"],
        lambda: [f"request_id={''.join(r.choice('0123456789abcdef') for _ in range(8))}-{''.join(r.choice('0123456789abcdef') for _ in range(4))}-4{''.join(r.choice('0123456789abcdef') for _ in range(3))} took {r.randint(1, 999)}ms"],
        lambda: [f"Number {g.bad_bsn()} does not pass the check; ticket #{r.randint(10000000, 99999999)} closed."],
        lambda: [f"Artikel {r.randint(100000, 999999)} op voorraad: {r.randint(1, 500)} stuks, locatie {r.choice('ABCDEF')}{r.randint(1, 40)}-{r.randint(1, 9)}"],
        lambda: [f"The meeting on {g.en.date_this_year().strftime('%d/%m/%Y')} was moved to room {r.randint(100, 999)}."],
        lambda: [f"Docs: https://docs.example.com/guide/{r.choice(['install', 'config', 'api'])}.html"],
        lambda: [g.en.sentence(nb_words=12)],
        lambda: [g.nl.sentence(nb_words=12)],
        # Harder distractors: capitalized non-names, companies, cities, look-alike numbers.
        lambda: [f"Boodschappen bij {r.choice(['Albert Heijn', 'Jumbo', 'Lidl', 'Hema', 'Kruidvat'])} in {g.nl.city()} en {g.nl.city()}, {r.choice(['Maandag', 'Dinsdag', 'Vrijdag'])} {r.randint(1, 28)} {r.choice(['maart', 'april', 'mei'])}."],
        lambda: [f"Supplier {g.en.company()} shipped {r.randint(2, 90)} units via {r.choice(['DHL Express', 'PostNL', 'UPS Ground'])} to {g.en.city()}."],
        lambda: [f"Vestiging {g.nl.company()} aan de {g.nl.street_name()} is gesloten wegens verbouwing."],
        lambda: [f"Kaartnummer onbekend; referentie {''.join(r.choice(string.digits) for _ in range(16))} is geen geldige betaling."],
        lambda: [f"Referentie {r.randint(10000000, 99999999)} en zaaknummer Z-{r.randint(2020, 2026)}-{r.randint(1000, 9999)} zijn gekoppeld."],
        lambda: [f"Meeting in {r.choice(['Microsoft Teams', 'Google Meet', 'Zoom'])} with the {r.choice(['Sales', 'Finance', 'Legal'])} Team on {r.choice(['Monday', 'Friday'])} at {r.randint(9, 17)}:00."],
        lambda: [f"Firmware {r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)} draait op build-server ci-{r.randint(1, 40)} sinds {g.nl.date_this_year().strftime('%d-%m-%Y')}."],
    ]
    x = r.random()
    if x < 0.33:
        return r.choice(distract)()
    if x < 0.5:
        return r.choice(logs)()
    return r.choice(T)()


def render(pieces):
    text = ""
    ents = []
    for p in pieces:
        if isinstance(p, tuple):
            t, v = p
            start = len(text.encode("utf-8"))
            text += v
            ents.append({"type": t, "start": start, "end": len(text.encode("utf-8"))})
        else:
            text += p
    return {"text": text, "entities": ents}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    g = Gen(a.seed)
    with open(a.out, "w", encoding="utf-8") as f:
        for i in range(a.lines):
            rec = render(template(g, "nl" if g.r.random() < 0.6 else "en"))
            assert "\n" not in rec["text"]
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
