#!/usr/bin/env bash
# Load benchmark: seeds 50,000 contacts (100,000 leads), then measures requests/s and
# p50/p99 latency with wrk (2 threads, 16 connections, loopback) for the issue's query
# table, and the time and peak server RSS of a full export following @odata.nextLink
# (also gzip-compressed, as Excel and Power BI ask for it).
#
#   benches/load.sh                 # SQLite (embedded default)
#   BACKEND=postgres benches/load.sh       # through the local Unix socket; TCP=1: over 127.0.0.1
#                                          # (TLS=1: let libpq negotiate TLS on loopback too)
#   CONTACTS=5000 DURATION=5 benches/load.sh   # quicker
#   PIN=1 benches/load.sh           # server on CPU 0, wrk (one thread) on CPU 1: shows which part
#                                   # of the tail latency comes from sharing the cores with wrk
#   PIN=db benches/load.sh          # server and wrk (one thread) on CPU 0; with BACKEND=postgres,
#                                   # PostgreSQL alone on CPU 1, as a database on a host of its own
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-sqlite}
CONTACTS=${CONTACTS:-50000}
DURATION=${DURATION:-10}
PORT=${PORT:-18181}
PIN=${PIN:-}
case "$PIN" in
  "") SRV_PIN=(); WRK=(wrk -t2) ;;
  db) SRV_PIN=(taskset -c 0); WRK=(taskset -c 0 wrk -t1) ;;
  *) SRV_PIN=(taskset -c 0); WRK=(taskset -c 1 wrk -t1) ;;
esac
# Every PostgreSQL process (new backends inherit the postmaster's CPU) on CPU 1, or back.
pin_postgres() { for p in $(pgrep -x postgres); do taskset -cp "$1" "$p" >/dev/null 2>&1 || true; done; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-release}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/crm-odata"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [ "$BACKEND" = postgres ]; then
  DB=crm_bench_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" >/dev/null
  # The database is on the same host, so the server reaches it as a client on that host
  # should: through PostgreSQL's Unix socket, where a statement costs both sides far less
  # kernel time than over TCP loopback. TCP=1 uses 127.0.0.1 instead (no TLS; TLS=1
  # also keeps libpq's default, which negotiates it: ~20% fewer requests by key).
  SOCKET_DIR=${SOCKET_DIR:-/var/run/postgresql}
  if [ -n "${TCP:-}" ] || [ ! -S "$SOCKET_DIR/.s.PGSQL.5432" ]; then
    if [ -n "${TLS:-}" ]; then SSL=""; else SSL="?sslmode=disable"; fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB$SSL"
  else
    export DATABASE_URL="postgres://postgres@/$DB?host=$SOCKET_DIR"
  fi
  trap 'kill $SERVER 2>/dev/null || true; [ "$PIN" != db ] || pin_postgres 0-$(($(nproc) - 1)); sleep 1; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS '"$DB"' WITH (FORCE)" >/dev/null; rm -rf "$WORK"' EXIT
  [ "$PIN" != db ] || pin_postgres 1
else
  export DATABASE_URL="sqlite://$WORK/bench.db"
fi
# The limiter stays in the path (its cost is part of the figures) but never denies;
# a one-second window keeps its log as small as a real workspace's.
export RATE_LIMIT=${RATE_LIMIT:-1000000000/1s}
unset REDIS_URL

"$BIN" migrate >/dev/null
SEED_START=$(date +%s.%N)
"$BIN" seed --workspace bench --contacts "$CONTACTS" --seed 7 2>/dev/null | tail -1
SEED_END=$(date +%s.%N)
echo "seed: $(echo "$SEED_END - $SEED_START" | bc) s for $CONTACTS contacts"
TOKEN=$("$BIN" token create --workspace bench --role read 2>/dev/null | tail -n1)
"${SRV_PIN[@]}" "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

run() { # name path
  local name=$1 path=$2
  local out
  out=$("${WRK[@]}" -c16 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/$path" 2>&1)
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  # The issue's targets assume a bare handler at about 130,000 req/s on the same machine;
  # the host's speed varies between machines, so each query is also given as a share of
  # this server's /healthz measured in the same run, next to the share the target implies.
  local share=""
  if [ "$name" = healthz ]; then HEALTHZ=$rps
  elif [ -n "${TARGET[$name]:-}" ] && [ -n "${HEALTHZ:-}" ]; then
    # PostgreSQL's target is 60% of SQLite's figures, so it is read against a SQLite run.
    share=$(awk -v r="$rps" -v h="$HEALTHZ" -v t="${TARGET[$name]}" -v b="$BACKEND" 'BEGIN {
      if (b == "postgres") printf "%.2f%% of healthz", 100*r/h;
      else printf "%.2f%% of healthz (target %.2f%%: %s)", 100*r/h, 100*t/130000, (r/h >= t/130000 ? "holds" : "misses")}')
  fi
  printf '%-14s %10s req/s   p50 %8s   p99 %8s   %s%s\n' "$name" "$rps" "$p50" "$p99" "$share" "${non2xx:+  NON-2XX: $non2xx}"
}
declare -A TARGET=([by-key]=40000 [top50-select]=20000 [expand-div]=4000 [startswith]=3000 [long-expand]=400 [leads-status]=400)
# Probe every query once so a failing one is visible, not just fast.
probe() { curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/$1" || echo "FAILED: $1"; }

LONG='Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(email,%27@prospectsoft.com%27)%20and%20StatusFlag%20eq%20%27A%27&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag%20eq%20%27A%27%20and%20Status/DeadFlag%20eq%200;$expand=Status($select=Description))'
declare -a Q=(
  "healthz|healthz"
  "by-key|Contacts(4242)"
  "top50-select|Contacts?\$top=50&\$select=ContactId,Forename,Surname,Email"
  "expand-div|Contacts?\$expand=Division(\$select=Name;\$expand=Company)&\$top=100"
  "startswith|Contacts?\$filter=startswith(Surname,%27Sm%27)&\$orderby=Created%20desc&\$top=100"
  "long-expand|$LONG"
  "leads-status|Leads?\$filter=Status/DeadFlag%20eq%200%20and%20Guttometer%20ge%2050&\$orderby=Value%20desc&\$top=100&\$expand=Status(\$select=Description)"
)
WHERE=""; [ "$BACKEND" != postgres ] || WHERE=" at ${DATABASE_URL##*@}"
echo "backend: $BACKEND$WHERE, $CONTACTS contacts, ${WRK[*]} -c16 -d${DURATION}s${PIN:+ (PIN=$PIN: server on CPU 0)}"
for q in "${Q[@]}"; do probe "${q#*|}"; done
for q in "${Q[@]}"; do run "${q%%|*}" "${q#*|}"; done
echo "long-expand rows: $(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/$LONG" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))')"

# Full export of all contacts (all properties) following nextLink, on a fresh server
# process so its peak RSS is the export's, not the load test's.
kill $SERVER; wait $SERVER 2>/dev/null || true
"${SRV_PIN[@]}" "$BIN" serve --bind "127.0.0.1:$PORT" 2>>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$PORT" "$TOKEN" "$SERVER" <<'PY'
# Two clients follow nextLink over one keep-alive connection: one that only reads each
# page (the server's own time: it counts rows and finds the link in the bytes), and one
# that also parses every page into Python objects, as a scripting client would (its
# json.loads costs about as much as the server's work).
import http.client, json, sys, time, zlib
port, token, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def export(parse, gzip=False):
    c = http.client.HTTPConnection("127.0.0.1", port)
    path, rows, pages, wire, t0 = "/Contacts", 0, 0, 0, time.time()
    headers = {"Authorization": f"Bearer {token}"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    while path:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        assert r.status == 200, r.status
        body = r.read()
        wire += len(body)
        if gzip:
            assert r.getheader("Content-Encoding") == "gzip"
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        pages += 1
        if parse:
            doc = json.loads(body)
            rows += len(doc["value"])
            link = doc.get("@odata.nextLink")
        else:
            rows += body.count(b'"ContactId"')
            i = body.rfind(b'"@odata.nextLink":"')
            link = body[i + 19:body.index(b'"', i + 19)].decode() if i >= 0 else None
        path = link[link.index("/", len("http://")):] if link else None
    return rows, pages, time.time() - t0, wire
rows, pages, dt, wire = export(False)
_, _, dt_parsed, _ = export(True)
hwm = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1]
print(f"full export: {rows} contacts in {pages} pages, {dt:.3f} s (client parsing every page: {dt_parsed:.3f} s), server peak RSS {int(hwm)/1024:.1f} MB")
# The same export as Excel and Power BI fetch it, gzip-compressed (the client's
# decompression is in the time).
rows_gz, _, dt_gz, wire_gz = export(False, gzip=True)
hwm = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1]
print(f"full export, gzip: {rows_gz} contacts, {dt_gz:.3f} s, {wire_gz/1e6:.1f} MB on the wire against {wire/1e6:.1f} MB, server peak RSS {int(hwm)/1024:.1f} MB")
PY
# Anything the server warned about during the run (a slow database, the limiter's fallback).
grep -i warn "$WORK/server.log" | head -5 || true
