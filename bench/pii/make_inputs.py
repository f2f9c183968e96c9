"""Write the ~100 MB throughput inputs for `custos scan` into bench/pii/out/.

    python3 bench/pii/make_inputs.py          # no dependencies beyond Python 3

logs.txt     application/access log lines without personal data
mixed.txt    the same logs with one line in ten from the labelled corpus (personal data)
dense.txt    only corpus lines: about three findings per line (worst case)
oneline.txt  the corpus lines joined by spaces: one 100 MB line without a newline
"""
import json
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "pii" / "out"
SIZE = 100_000_000


def log_line(i):
    return (f"2026-11-23T03:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z INFO  http{{method=GET "
            f"path=/api/v1/orders/{10000 + i % 90000} status=200}} request_id=4f{(i * 2654435761) % 0xffffff:06x}-aa31 "
            f"took {i % 900}ms (worker {i % 8}) cache=hit v2.14.{i % 30}")


def write(name, lines, sep="\n"):
    n = 0
    with open(OUT / name, "w", encoding="utf-8") as f:
        i = 0
        while n < SIZE:
            line = lines(i) + sep
            f.write(line)
            n += len(line.encode("utf-8"))
            i += 1


def main():
    os.makedirs(OUT, exist_ok=True)
    corpus = ROOT / "crates" / "pii" / "tests" / "data" / "pii_corpus.jsonl"
    texts = [json.loads(l)["text"] for l in corpus.read_text(encoding="utf-8").splitlines() if l]
    write("logs.txt", log_line)
    write("mixed.txt", lambda i: texts[(i // 10) % len(texts)] if i % 10 == 9 else log_line(i))
    write("dense.txt", lambda i: texts[i % len(texts)])
    write("oneline.txt", lambda i: texts[i % len(texts)], sep=" ")


if __name__ == "__main__":
    main()
