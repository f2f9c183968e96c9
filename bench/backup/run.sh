#!/usr/bin/env bash
# `custos backup` against SQLite's own online backup (`sqlite3 DB ".backup COPY"`) and a plain
# file copy, on the same vault in one run (BENCHMARKS.md, "Backups"). The vault is the demo's,
# grown to N records by copying its rows with fresh ids (backup speed depends on the file, not on
# what the ciphertexts say).
#
#   bash bench/backup/run.sh [N]          # default N = 200000
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-200000}"
cargo build -q --release -p custos
bin="$PWD/target/release/custos"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
"$bin" serve --demo --listen 127.0.0.1:0 >/dev/null 2>&1 & pid=$!
for _ in $(seq 1 50); do if [ -s custos-demo.db ]; then break; fi; sleep 0.1; done
sleep 1; kill -TERM "$pid"; wait "$pid" || true
python3 - "$n" <<'PY'
import os, sqlite3, sys
n = int(sys.argv[1])
c = sqlite3.connect("custos-demo.db")
row = c.execute("SELECT * FROM records LIMIT 1").fetchone()
cols = [d[0] for d in c.execute("SELECT * FROM records LIMIT 1").description]
i = cols.index("record_id")
with c:
    for k in range(n):
        r = list(row); r[i] = os.urandom(16).hex()
        c.execute(f"INSERT INTO records ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", r)
c.close()
PY
size=$(stat -c %s custos-demo.db)
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
for round in 1 2 3; do
  rm -f a.db b.db c.db
  ta=$(t "$bin" backup --db custos-demo.db a.db)
  tb=$(t sqlite3 custos-demo.db ".backup b.db")
  tc=$(t cp custos-demo.db c.db)
  printf 'round %s: %s records, %s MiB: custos backup %.3f s, sqlite3 .backup %.3f s, cp %.3f s, custos/sqlite3 %.2f\n' \
    "$round" "$n" "$((size / 1048576))" "$ta" "$tb" "$tc" "$(echo "$ta / $tb" | bc -l)"
done
