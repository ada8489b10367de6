#!/usr/bin/env bash
# CPU time and throughput of a large upload through nginx and labgate, in the same run (issue 7, session 14).
#
#   bench/upload.sh [LABGATE_BINARY]     (default: .build/release/labgate)
#
# The chain is make bench's: curl -T a sparse file -> the proxy -> an upstream nginx that streams PUT /api/v1/upload
# (`proxy_request_buffering off`) to hello-c, which reads and discards it. Each round uploads the file once through
# nginx (2 workers) and once through `labgate serve` (and LABGATE_B's, when set: an A/B of two builds), and prints
# MB/s and the CPU the proxy and the upstream nginx spent on the transfer (ticks of 10 ms, all their threads, from
# /proc, so tick-sampled: ±10 ticks). Throughput swings by tens of percent between transfers on this machine; the CPU
# per GiB is the steadier figure, over five rounds or more. Environment: MB (1024), ROUNDS (3), LABGATE_B. Everything on 127.0.0.1, free ports, stopped on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LABGATE="${1:-$HERE/../.build/release/labgate}"
MB="${MB:-1024}" ROUNDS="${ROUNDS:-3}"
SECRET=lbk_bench_secret
# shellcheck source=bench/rig.sh
. "$HERE/rig.sh"
rig_start upload
for tool in nginx curl python3 cc; do
  command -v "$tool" >/dev/null || {
    echo "upload.sh: $tool is missing (apt-get install nginx-light curl python3 gcc)" >&2
    exit 1
  }
done
ticks() { # PIDS... -> user + system ticks summed over the processes (their threads, ended ones included)
  local pid
  for pid in "$@"; do cat /proc/"$pid"/stat; done | awk '{ t += $14 + $15 } END { print t + 0 }'
}
wait_port() { # PORT: until something listens there (10 s)
  local i
  for ((i = 0; i < 100; i++)); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "upload.sh: nothing listens on $1" >&2
  exit 1
}

cc -O2 -DHELLO_EXTERNAL_LOOP -o "$TMP/hello-c" "$HERE/hello.c" -lmicrohttpd
sink="$(free_port)" up="$(free_port)" px="$(free_port)" lg="$(free_port)" lgb="$(free_port)"
"$TMP/hello-c" "$sink" >"$TMP/hello.log" 2>&1 &
PIDS+=($!)
nginx_conf "$TMP/up" "client_max_body_size 0; upstream sink { server 127.0.0.1:$sink; keepalive 16; }
  server { listen 127.0.0.1:$up; location = /api/v1/upload {
  if (\$http_authorization != \"Bearer $SECRET\") { return 401; }
  proxy_pass http://sink; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_request_buffering off; } }"
nginx_conf "$TMP/px" "client_max_body_size 0; upstream labric { server 127.0.0.1:$up; keepalive 16; }
  server { listen 127.0.0.1:$px; location /labric/ { proxy_pass http://labric/; proxy_http_version 1.1;
  proxy_set_header Connection \"\"; proxy_set_header Authorization \"Bearer $SECRET\";
  proxy_request_buffering off; } }"
nginx -p "$TMP/up" -c "$TMP/up/nginx.conf" -g 'daemon off;' &
upstream_master=$!
PIDS+=("$upstream_master")
nginx -p "$TMP/px" -c "$TMP/px/nginx.conf" -g 'daemon off;' &
proxy_master=$!
PIDS+=("$proxy_master")
start_labgate() { # BINARY PORT
  LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" LABGATE_ACCESS_LOG=off \
    "$1" serve --host 127.0.0.1 --port "$2" >"$TMP/labgate-$2.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}
start_labgate "$LABGATE" "$lg"
labgate=$LAST_PID
targets=(nginx labgate)
if [[ -n ${LABGATE_B:-} ]]; then
  start_labgate "$LABGATE_B" "$lgb"
  labgate_b=$LAST_PID
  targets+=(labgate-b)
fi
for port in "$sink" "$up" "$px" "$lg" ${LABGATE_B:+"$lgb"}; do wait_port "$port"; done
truncate -s "${MB}M" "$TMP/upload.bin"
upstream_workers=$(pgrep -P "$upstream_master" | tr '\n' ' ')
proxy_workers=$(pgrep -P "$proxy_master" | tr '\n' ' ')

# The first read of the sparse file fills the page cache with its zero pages, at half the speed of later ones: read
# it once before, and send 64 MiB through each proxy, so that no round's first transfer pays for a cold start.
cat "$TMP/upload.bin" >/dev/null
truncate -s 64M "$TMP/warm-up.bin"
for port in "$px" "$lg" ${LABGATE_B:+"$lgb"}; do
  curl -s -o /dev/null -T "$TMP/warm-up.bin" "http://127.0.0.1:$port/labric/api/v1/upload"
done

echo "upload of $MB MiB: curl -> proxy -> nginx (request buffering off) -> hello-c; CPU in ticks of 10 ms per GiB"
printf '%-6s %-10s %10s %14s %14s\n' round proxy MB/s "proxy CPU" "upstream CPU"
for ((round = 1; round <= ROUNDS; round++)); do
  for target in "${targets[@]}"; do
    case $target in
      nginx) url="http://127.0.0.1:$px/labric/api/v1/upload" pids=$proxy_workers ;;
      labgate) url="http://127.0.0.1:$lg/labric/api/v1/upload" pids=$labgate ;;
      labgate-b) url="http://127.0.0.1:$lgb/labric/api/v1/upload" pids=$labgate_b ;;
    esac
    # shellcheck disable=SC2086
    p0=$(ticks $pids) u0=$(ticks $upstream_workers)
    result=$(curl -s -o /dev/null -w '%{speed_upload} %{http_code}' -T "$TMP/upload.bin" "$url")
    # shellcheck disable=SC2086
    p1=$(ticks $pids) u1=$(ticks $upstream_workers)
    read -r speed code <<<"$result"
    [[ $code == 200 ]] || echo "upload.sh: $target answered $code" >&2
    awk -v r="$round" -v t="$target" -v s="$speed" -v p=$((p1 - p0)) -v u=$((u1 - u0)) -v mb="$MB" \
      'BEGIN { printf "%-6s %-10s %10.0f %14.0f %14.0f\n", r, t, s / 1e6, p * 1024 / mb, u * 1024 / mb }'
  done
done
