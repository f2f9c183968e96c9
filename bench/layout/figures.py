#!/usr/bin/env python3
"""Layout figures for the closing notes of renovation work: lines of Rust per crate (source and
tests apart), the longest functions, and module import cycles inside each crate.

    python3 bench/layout/figures.py            # from the repository root
    python3 bench/layout/figures.py --longest 20

Reads the files as text; counts every line (blank and comment lines included) so the figures
are comparable between commits. Pairs of duplicated code come from a separate tool; see the
closing notes of issue 17.
"""
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CRATES = os.path.join(ROOT, "crates")


def rust_files(path):
    for d, _, files in os.walk(path):
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(d, f)


def lines_per_crate():
    rows = []
    for c in sorted(os.listdir(CRATES)):
        src = sum(sum(1 for _ in open(f, encoding="utf-8")) for f in rust_files(os.path.join(CRATES, c, "src")))
        other = sum(
            sum(1 for _ in open(f, encoding="utf-8"))
            for sub in ("tests", "benches")
            for f in rust_files(os.path.join(CRATES, c, sub))
        )
        rows.append((c, src, other))
    return rows


FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def functions(path):
    """(name, start line, length) of each fn whose body ends at a `}` with the fn's indentation."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        indent = m.group(1)
        # a declaration without a body (trait method) ends with `;` before any `{`
        j = i
        while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= len(lines) or lines[j].rstrip().endswith(";") and "{" not in lines[j]:
            continue
        if lines[j].rstrip().endswith("}") and lines[j].count("{") == lines[j].count("}"):
            out.append((m.group(6), i + 1, j - i + 1))
            continue
        for k in range(j + 1, len(lines)):
            if lines[k] == indent + "}":
                out.append((m.group(6), i + 1, k - i + 1))
                break
    return out


def longest(n, include_tests=False):
    found = []
    for f in rust_files(CRATES):
        rel = os.path.relpath(f, CRATES)
        if not include_tests and ("/tests/" in rel or "/benches/" in rel or rel.endswith("tests.rs")):
            continue
        for name, start, length in functions(f):
            found.append((length, f"{rel}:{start}", name))
    found.sort(reverse=True)
    return found[:n]


USE = re.compile(r"\bcrate::(\w+)")


def import_cycles():
    """Cycles between top-level modules of a crate, from `crate::module` paths in its files."""
    cycles = []
    for c in sorted(os.listdir(CRATES)):
        src = os.path.join(CRATES, c, "src")
        if not os.path.isdir(src):
            continue
        graph = defaultdict(set)
        for f in rust_files(src):
            rel = os.path.relpath(f, src)
            module = rel.split(os.sep)[0].removesuffix(".rs")
            if module in ("lib", "main"):
                continue
            text = open(f, encoding="utf-8").read()
            # tests inside a file do not make a cycle in the code a reader follows
            text = text.split("#[cfg(test)]")[0]
            for m in USE.finditer(text):
                if m.group(1) != module:
                    graph[module].add(m.group(1))
        # strongly connected components (Tarjan)
        index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in graph.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))

        for v in list(graph):
            if v not in index:
                visit(v)
        for comp in comps:
            cycles.append((c, comp))
    return cycles


def main():
    n = 10
    if "--longest" in sys.argv:
        n = int(sys.argv[sys.argv.index("--longest") + 1])
    print("lines per crate (src / tests+benches)")
    total_src = total_other = 0
    for c, s, o in lines_per_crate():
        print(f"  {c:<10} {s:>6} / {o:>6}")
        total_src += s
        total_other += o
    print(f"  {'all':<10} {total_src:>6} / {total_other:>6}")
    print(f"longest functions (outside tests)")
    for length, where, name in longest(n):
        print(f"  {length:>4}  {name}  {where}")
    cycles = import_cycles()
    print(f"module import cycles: {len(cycles)}")
    for c, comp in cycles:
        print(f"  {c}: {' <-> '.join(comp)}")


if __name__ == "__main__":
    main()
