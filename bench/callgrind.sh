#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: repeatable on a busy machine, unlike req/s.
#
#   bench/callgrind.sh [LABGATE_BINARY]     (default: .build/release/labgate)
#
# Starts a static upstream (nginx: the 76-byte JSON of bench.sh's proxy part at /api/v1/ping, 401 without
# `Authorization: Bearer lbk_bench_secret`), then `labgate serve` under callgrind with the Labric route pointed at it.
# After a warm-up it zeroes the counters, sends CALLGRIND_REQUESTS keep-alive requests (ab -k, CALLGRIND_CONNS
# connections) and dumps; that twice. Start-up and warm-up are not counted. Each interval prints
# "instructions/request"; the two intervals agree to well under 1% when nothing else is wrong. Then the second
# interval's instructions a request in each stage of the relay path (bench/callgrind-stages.awk).
#
# Environment: CALLGRIND_REQUESTS (default 2000), CALLGRIND_CONNS (default 8), CALLGRIND_KEEP=1 keeps the output dir,
# CALLGRIND_PATH (default /labric/api/v1/ping). CALLGRIND_CLIENT=wrk sends the requests with wrk instead of ab, for
# CALLGRIND_SECONDS (default 4) each interval: its requests carry `Host` alone, as `make bench`'s do, where ab's carry
# four fields (the request side's per-field work then weighs more than in the bench); the count is the upstream's
# (nginx's stub_status), since wrk's stops mid-flight.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LABGATE="${1:-$ROOT/.build/release/labgate}"
REQUESTS="${CALLGRIND_REQUESTS:-2000}"
CONNS="${CALLGRIND_CONNS:-8}"
REQ_PATH="${CALLGRIND_PATH:-/labric/api/v1/ping}"
SECRET="lbk_bench_secret"
PING_JSON='{"status":"ok","service":"labric-bench-upstream","version":"1.0.0","n":1234}'

for tool in valgrind callgrind_control ab nginx curl python3 cc strip $([[ ${CALLGRIND_CLIENT:-} == wrk ]] && echo wrk); do
  command -v "$tool" >/dev/null || {
    echo "callgrind.sh: $tool is missing (apt-get install valgrind apache2-utils nginx-light curl)" >&2
    exit 1
  }
done
[[ -x $LABGATE ]] || {
  echo "callgrind.sh: $LABGATE is not executable (swift build -c release --product labgate)" >&2
  exit 1
}

# shellcheck source=bench/rig.sh
. "$HERE/rig.sh"
rig_start callgrind "${CALLGRIND_KEEP:-0}"
# Debian bookworm's valgrind 3.19 cannot read the DWARF 5 that Swift 6 emits ("unhandled dwarf2 abbrev form code
# 0x1b", then it gives up): run a copy without debug info. Function names stay (.symtab), instructions are the same.
cp "$LABGATE" "$TMP/labgate"
strip --strip-debug "$TMP/labgate"
LABGATE="$TMP/labgate"
# And it crashes once a Swift async main parks in dispatch_main(): see bench/vg_dispatch_main.c.
cc -O2 -shared -fPIC -o "$TMP/vg_dispatch_main.so" "$HERE/vg_dispatch_main.c"
wait_200() { # URL: until it answers 200 (up to 120 s: labgate starts slowly under valgrind)
  local i
  for ((i = 0; i < 1200; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" == 200 ]] && return 0
    sleep 0.1
  done
  echo "callgrind.sh: $1 never answered 200" >&2
  return 1
}

# Upstream
up="$(free_port)"
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
cat >"$TMP/nginx/nginx.conf" <<EOF
$([[ $(id -u) -eq 0 ]] && echo "user root;")
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/tmp/body;
  proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
  scgi_temp_path $TMP/nginx/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type application/json;
  server {
    listen 127.0.0.1:$up;
    location = /api/v1/ping {
      if (\$http_authorization != "Bearer $SECRET") { return 401 '{"detail":"missing or wrong credential"}'; }
      return 200 '$PING_JSON';
    }
    location = /nginx-status { stub_status; }
    location / { return 404 '{"detail":"not found"}'; }
  }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' >"$TMP/nginx/logs/stdout.log" 2>&1 &
PIDS+=($!)

# labgate under callgrind
port="$(free_port)"
out="$TMP/callgrind.out"
(cd "$ROOT" && exec env LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" LABGATE_ACCESS_LOG=off \
  LD_PRELOAD="$TMP/vg_dispatch_main.so" valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$LABGATE" serve --host 127.0.0.1 --port "$port") \
  >"$TMP/labgate.log" 2>&1 &
vg=$!
PIDS=("$vg" "${PIDS[@]}")
url="http://127.0.0.1:$port$REQ_PATH"
wait_200 "$url"
body="$(curl -s "$url")"
[[ $body == "$PING_JSON" ]] || {
  echo "callgrind.sh: $url answered '$body', not the upstream JSON" >&2
  exit 1
}

run_ab() { # COUNT: keep-alive requests, fails unless every one was a 2xx
  local result
  result="$(ab -q -k -n "$1" -c "$CONNS" "$url" 2>&1)"
  if ! grep -q '^Failed requests: *0' <<<"$result" || grep -q '^Non-2xx' <<<"$result"; then
    echo "$result" >&2
    echo "callgrind.sh: some requests failed" >&2
    exit 1
  fi
}
upstream_requests() { # the upstream's request count, without the status request itself
  echo $(($(curl -s "http://127.0.0.1:$up/nginx-status" | awk 'NR == 3 { print $3 }') - 1))
}
CLIENT="${CALLGRIND_CLIENT:-ab}"
SECONDS_EACH="${CALLGRIND_SECONDS:-4}"
run_client() { # COUNT (ab) or a duration (wrk); sets N to the requests relayed
  if [[ $CLIENT != wrk ]]; then
    run_ab "$1"
    N="$1"
    return
  fi
  local before after result
  before="$(upstream_requests)"
  result="$(wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" "$url" 2>&1)"
  if grep -q 'Non-2xx\|Socket errors' <<<"$result"; then
    echo "$result" >&2
    echo "callgrind.sh: some requests failed" >&2
    exit 1
  fi
  sleep 0.5 # the requests in flight when wrk stopped
  after="$(upstream_requests)"
  N=$((after - before - 1))
}
total_ir() { # callgrind dump file -> total Ir of that dump
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

run_ab 500 # warm-up: connection pools, lazily made metrics, caches
callgrind_control -z "$vg" >/dev/null
for interval in 1 2; do
  before="$(ls "$out".* 2>/dev/null | wc -l)"
  run_client "$REQUESTS"
  callgrind_control -d "interval$interval" "$vg" >/dev/null
  for ((i = 0; i < 100; i++)); do
    [[ "$(ls "$out".* 2>/dev/null | wc -l)" -gt $before ]] && break
    sleep 0.1
  done
  dump="$(ls -t "$out".* | head -n1)"
  ir="$(total_ir "$dump")"
  echo "interval $interval: $N requests, $ir instructions, $((ir / N)) instructions/request"
done
# Where the last interval's instructions went, stage by stage (the table of bench/RESULTS.md, issue 7 session 19).
callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null |
  awk -v n="$N" -v total="$ir" -f "$HERE/callgrind-stages.awk"
