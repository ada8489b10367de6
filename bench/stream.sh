#!/usr/bin/env bash
# 1 GiB each way through nginx and labgate as credential-injecting proxies (issue 7's streaming criterion):
# throughput and peak RSS growth of the proxy while one curl downloads, then uploads, 1 GiB.
#
#   bench/stream.sh [LABGATE_BINARY]     (default: .build/release/labgate)
#
# Upstream: nginx serving a sparse 1 GiB file at /api/v1/files/large.bin and discarding POST bodies at
# /api/v1/upload, 401 without `Authorization: Bearer lbk_bench_secret` (as in bench.sh's proxy part).
# Environment: STREAM_MB (default 1024).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LABGATE="${1:-$ROOT/.build/release/labgate}"
MB="${STREAM_MB:-1024}"
SECRET="lbk_bench_secret"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/labgate-stream.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { local i; for ((i = 0; i < 200; i++)); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
tree() { ps -e -o pid=,ppid= | awk -v r="$1" '{ p[$1] = $2 } END { print r; for (c in p) if (p[c] == r) print c }'; }
reset_peak() { local p; for p in $(tree "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
rss_kib() { # PID FIELD: summed over the process and its children
  local p sum=0 v
  for p in $(tree "$1"); do v="$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)"; sum=$((sum + ${v:-0})); done
  echo "$sum"
}
nginx_conf() { # DIR PORT BODY
  mkdir -p "$1/logs" "$1/tmp"
  cat >"$1/nginx.conf" <<EOC
$([[ $(id -u) -eq 0 ]] && echo "user root;")
worker_processes auto;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1/tmp/body; proxy_temp_path $1/tmp/proxy; fastcgi_temp_path $1/tmp/f;
  uwsgi_temp_path $1/tmp/u; scgi_temp_path $1/tmp/s;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$2;
$3
  }
}
EOC
  nginx -p "$1" -c "$1/nginx.conf" -g 'daemon off;' >"$1/logs/stdout.log" 2>&1 &
  PIDS+=($!)
  STARTED=$!
}

up="$(free_port)"
mkdir -p "$TMP/up/files"
truncate -s "${MB}M" "$TMP/up/files/large.bin"
auth="if (\$http_authorization != \"Bearer $SECRET\") { return 401; }"
nginx_conf "$TMP/up" "$up" "    location /api/v1/files/ { $auth alias $TMP/up/files/; }
    location = /api/v1/upload { $auth proxy_pass http://127.0.0.1:$up/sink; proxy_request_buffering off; }
    location = /sink { return 200 '{\"ok\":true}'; }"
np="$(free_port)"
nginx_conf "$TMP/nginx" "$np" "    location / { proxy_pass http://127.0.0.1:$up; proxy_http_version 1.1; proxy_set_header Connection \"\";
      proxy_set_header Authorization \"Bearer $SECRET\"; proxy_request_buffering off; proxy_max_temp_file_size 0; }"
ngx=$STARTED
lp="$(free_port)"
env LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" LABGATE_ACCESS_LOG=off \
  "$LABGATE" serve --host 127.0.0.1 --port "$lp" >"$TMP/labgate.log" 2>&1 &
lg=$!
PIDS+=("$lg")
wait_up "http://127.0.0.1:$np/" && wait_up "http://127.0.0.1:$lp/healthz" || { echo "stream.sh: a proxy did not start" >&2; exit 1; }
truncate -s "${MB}M" "$TMP/upload.bin"

printf '%-8s | %-9s | %12s | %16s\n' proxy direction "MiB/s" "peak RSS growth"
for name in nginx labgate; do
  if [[ $name == nginx ]]; then pid=$ngx base="http://127.0.0.1:$np"; else pid=$lg base="http://127.0.0.1:$lp/labric"; fi
  for direction in down up; do
    reset_peak "$pid"
    before="$(rss_kib "$pid" VmRSS)"
    if [[ $direction == down ]]; then
      out="$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$base/api/v1/files/large.bin")"
    else
      out="$(curl -s -o /dev/null -X POST -H 'Content-Type: application/octet-stream' -T "$TMP/upload.bin" \
        -w '%{http_code} %{size_upload} %{time_total}' "$base/api/v1/upload")"
    fi
    peak="$(rss_kib "$pid" VmHWM)"
    read -r code bytes secs <<<"$out"
    [[ $code == 200 && $bytes == $((MB << 20)) ]] || echo "stream.sh: $name $direction answered $code after $bytes bytes" >&2
    printf '%-8s | %-9s | %12s | %13s MiB\n' "$name" "$direction" \
      "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / 1048576 / s }')" "$(((peak - before) / 1024))"
  done
done
echo "(one curl at a time, ${MB} MiB; RSS: VmHWM after minus VmRSS before, summed over the proxy's processes)"
