#!/usr/bin/env bash
# What the Redis limiter costs through HTTP: the same requests with the in-process
# limiter and with Redis, alternated ROUNDS times so the machine's background load
# hits both alike, reported as medians and as the Redis/in-process ratio.
#
#   benches/ratelimit_http.sh                       # SQLite, Redis at redis://127.0.0.1:6379
#   ROUNDS=5 DURATION=8 benches/ratelimit_http.sh
#   CONNECTIONS=64 benches/ratelimit_http.sh   # enough connections to keep the server busy
#                                              # while requests wait on Redis: capacity, not latency
#   WORKSPACES=32 benches/ratelimit_http.sh   # requests spread round-robin over 32 workspaces
#                                             # (200 contacts each), as many tenants load a
#                                             # hosted instance: each keeps few requests in flight
#   PIN=1 benches/ratelimit_http.sh   # Redis (the local server) alone on CPU 1, the server and
#                                     # wrk (one thread) on CPU 0: Redis on a host of its own,
#                                     # as in the hosted deployment, on a 2-core machine
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS=${CONTACTS:-50000}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18182}
CONNECTIONS=${CONNECTIONS:-16}
WORKSPACES=${WORKSPACES:-1}
REDIS=${REDIS:-redis://127.0.0.1:6379}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-release}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/crm-odata"
WORK=$(mktemp -d)
SERVER=
PIN=${PIN:-}
SRV=(); WRK=(wrk -t2)
REDIS_PID=
if [ -n "$PIN" ]; then
  REDIS_PID=$(pidof redis-server | awk '{print $1}')
  [ -n "$REDIS_PID" ] || { echo "PIN=1 needs the local redis-server running" >&2; exit 1; }
  taskset -cp 1 "$REDIS_PID" >/dev/null
  SRV=(taskset -c 0); WRK=(taskset -c 0 wrk -t1)
fi
trap 'kill $SERVER 2>/dev/null || true; [ -z "$REDIS_PID" ] || taskset -cp 0-$(($(nproc) - 1)) "$REDIS_PID" >/dev/null; rm -rf "$WORK"' EXIT
export DATABASE_URL="sqlite://$WORK/bench.db"
# Never denies, so both limiters do the same work per request; at this load (25-35k
# requests/s) a 50 ms window holds about as many entries as a saturated workspace's log
# in production (1,200), where a 1 s window would hold 30,000.
export RATE_LIMIT=${RATE_LIMIT:-1000000000/50ms}
"$BIN" migrate >/dev/null
"$BIN" seed --workspace bench --contacts "$CONTACTS" --seed 7 >/dev/null 2>&1
TOKEN=$("$BIN" token create --workspace bench --role read 2>/dev/null | tail -n1)
AUTH=(-H "Authorization: Bearer $TOKEN")
if [ "$WORKSPACES" -gt 1 ]; then
  # Each request carries the next workspace's token (the path's rows exist in each).
  for i in $(seq 1 "$WORKSPACES"); do
    "$BIN" seed --workspace "w$i" --contacts 200 --seed "$i" >/dev/null 2>&1
    "$BIN" token create --workspace "w$i" --role read 2>/dev/null | tail -n1
  done | awk 'BEGIN {printf "tokens = {"} {printf "%s\"%s\"", (NR > 1 ? "," : ""), $1}
    END {print "}\nn = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(\"GET\", wrk.path, {[\"Authorization\"] = \"Bearer \" .. tokens[n % #tokens + 1]})\nend"}' >"$WORK/tokens.lua"
  AUTH=(-s "$WORK/tokens.lua")
fi

start() { # limiter
  kill $SERVER 2>/dev/null && wait $SERVER 2>/dev/null || true
  if [ "$1" = redis ]; then REDIS_URL=$REDIS "${SRV[@]}" "$BIN" serve --bind "127.0.0.1:$PORT" 2>>"$WORK/server.log" &
  else env -u REDIS_URL "${SRV[@]}" "$BIN" serve --bind "127.0.0.1:$PORT" 2>>"$WORK/server.log" & fi
  SERVER=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
}
measure() { # path -> "rps p50_ms p99_ms"
  "${WRK[@]}" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${AUTH[@]}" "http://127.0.0.1:$PORT/$1" |
    awk 'function ms(v) {if (v ~ /us$/) {sub(/us/,"",v); return v/1000} if (v ~ /ms$/) {sub(/ms/,"",v); return v+0} sub(/s/,"",v); return v*1000}
         /Requests\/sec/ {r=$2} $1=="50%" {p=ms($2)} $1=="99%" {q=ms($2)} END {print r, p, q}'
}
declare -a Q=(
  "by-key|Contacts($([ "$WORKSPACES" -gt 1 ] && echo 42 || echo 4242))"
  "top50-select|Contacts?\$top=50&\$select=ContactId,Forename,Surname,Email"
  "expand-div|Contacts?\$expand=Division(\$select=Name;\$expand=Company)&\$top=100"
)
declare -A RPS P50 P99
for round in $(seq 1 "$ROUNDS"); do
  for limiter in local redis; do
    start $limiter
    for q in "${Q[@]}"; do
      read -r rps p50 p99 <<<"$(measure "${q#*|}")"
      RPS[$limiter,${q%%|*}]+="$rps "
      P50[$limiter,${q%%|*}]+="$p50 "
      P99[$limiter,${q%%|*}]+="$p99 "
    done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median of $ROUNDS alternating rounds, ${WRK[*]} -c$CONNECTIONS -d${DURATION}s, $CONTACTS contacts${PIN:+, Redis alone on CPU 1}$([ "$WORKSPACES" -gt 1 ] && echo ", $WORKSPACES workspaces round-robin")"
printf '%-14s %16s %16s %8s %12s %12s\n' request "in-process rps" "redis rps" ratio "p50 added" "p99 added"
for q in "${Q[@]}"; do
  n=${q%%|*}
  l=$(median "${RPS[local,$n]}"); r=$(median "${RPS[redis,$n]}")
  lp=$(median "${P50[local,$n]}"); rp=$(median "${P50[redis,$n]}")
  lq=$(median "${P99[local,$n]}"); rq=$(median "${P99[redis,$n]}")
  printf '%-14s %16s %16s %8s %9.3f ms %9.3f ms\n' "$n" "$l" "$r" "$(echo "scale=3; $r / $l" | bc)" "$(echo "$rp - $lp" | bc)" "$(echo "$rq - $lq" | bc)"
done
