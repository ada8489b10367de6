#!/usr/bin/env bash
# labgate benchmark harness, run by `make bench`.
#
#   bench/bench.sh [all|server|proxy|storm]  (default: all)
#
# Part "server": wrk against the bare C libmicrohttpd hello (bench/hello.c) and the Swift HelloServer built on
#   MicroHTTPServer, interleaved in the same run, at 1, 64 and 256 connections: req/s, p99, ratio Swift/C.
# Part "proxy": a fast static upstream (nginx: 76-byte JSON at /api/v1/ping, a large file, uploads streamed to
#   hello-c, which discards them; it answers 401 unless `Authorization: Bearer lbk_bench_secret`), then nginx, HAProxy
#   and labgate as the same credential-injecting reverse proxy, interleaved, at 1, 16, 64 and 256 connections: req/s,
#   p50, p99, peak RSS and the ratios to nginx; then 1 GiB each way and 1,000 idle connections (bench/extras.sh).
# Part "storm": 10,000 Genie private-API requests through `labgate sandbox` across three token lifetimes, exchanges
#   counted (bench/extras.sh).
#
# Environment (all optional):
#   LABGATE          path to the release `labgate` binary      (row skipped when missing)
#   HELLO_SWIFT      path to the release `HelloServer` binary  (column skipped when missing)
#   HELLO_C          path to a prebuilt hello-c (default: built here into bench/out/hello-c)
#   BENCH_HELLO_CFLAGS  cc flags for hello-c (default -DHELLO_EXTERNAL_LOOP: the same event loop as MicroHTTPServer,
#                    since 0.9.75's internal epoll thread stalls at 128+ ready connections; "" for that one)
#   BENCH_DURATION   seconds per wrk round (default 5)
#   BENCH_ROUNDS     interleaved rounds per target and connection count (default 3; the median is reported)
#   BENCH_SERVER_CONNS / BENCH_PROXY_CONNS   connection counts (default "1 64 256" / "1 16 64 256")
#   BENCH_IDLE_CONNS number of idle keep-alive connections for the RSS row of part "server" (default 1000)
#   BENCH_DIRECT     1 (default) also measures the upstream without a proxy, as a reference row; 0 to skip
#   BENCH_CEILING    1 also measures bench/relay-ceiling.c (built here), the thinnest proxy on libmicrohttpd in C:
#                    how far the library itself lets a proxy go on this machine (req/s rows only; default 0)
#   BENCH_LABGATE_ACCESS_LOG  labgate's access log during the proxy part (default off, like nginx's and HAProxy's there)
#   BENCH_LARGE_MB   size of the upstream's large file (sparse) and of the upload through each proxy (default 1024)
#   BENCH_TRANSFER_ROUNDS  interleaved rounds of those transfers per proxy and direction (default 3; median shown)
#   BENCH_KEEP_TMP   1 keeps the temporary directory (configs and logs) for inspection
#   BENCH_STORM_REQUESTS, BENCH_STORM_TTL, BENCH_STORM_CONNS  the token storm (default 10000 requests, 3 s, 32)
#
# Everything listens on 127.0.0.1 on free ports, lives in a mktemp directory and is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

PART="${1:-all}"
case "$PART" in
  all | server | proxy | storm) ;;
  -h | --help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"  # the header comment
    exit 0
    ;;
  *)
    echo "usage: $0 [all|server|proxy|storm]" >&2
    exit 2
    ;;
esac

DURATION="${BENCH_DURATION:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
SERVER_CONNS="${BENCH_SERVER_CONNS:-1 64 256}"
IDLE_CONNS="${BENCH_IDLE_CONNS:-1000}"
PROXY_CONNS="${BENCH_PROXY_CONNS:-1 16 64 256}"
DIRECT="${BENCH_DIRECT:-1}"
CEILING="${BENCH_CEILING:-0}"
LARGE_MB="${BENCH_LARGE_MB:-1024}"
SECRET="lbk_bench_secret"
# Exactly 76 bytes; checked below.
PING_JSON='{"status":"ok","service":"labric-bench-upstream","version":"1.0.0","n":1234}'

log() { printf '%s\n' "$*" >&2; }
die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}

[[ ${#PING_JSON} -eq 76 ]] || die "internal: the ping JSON is ${#PING_JSON} bytes, not 76"

# ---------------------------------------------------------------------------------------------------------------------
# Tools

need_pkgs=()
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v curl >/dev/null || need_pkgs+=(curl)
if [[ $PART != server ]]; then
  command -v nginx >/dev/null || need_pkgs+=(nginx-light)
  command -v haproxy >/dev/null || need_pkgs+=(haproxy)
fi
if [[ $PART != proxy && -z ${HELLO_C:-} && ! -e /usr/include/microhttpd.h ]]; then
  need_pkgs+=(libmicrohttpd-dev)
fi
if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    log "bench: installing ${need_pkgs[*]} from Debian"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}"; then
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}"
    fi
  else
    die "missing tools; install them with:  sudo apt-get install -y wrk nginx-light haproxy ${need_pkgs[*]}"
  fi
fi

# Allow many connections (256 clients, each with an upstream socket, plus pools).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

# ---------------------------------------------------------------------------------------------------------------------
# Temp dir, process bookkeeping, cleanup

TMP="$(mktemp -d "${TMPDIR:-/tmp}/labgate-bench.XXXXXX")"
PIDS=()

descendants() { # PID -> the PID and all of its descendants, one per line
  local root=$1
  if command -v ps >/dev/null; then
    ps -e -o pid=,ppid= | awk -v root="$root" '
      { parent[$1] = $2; pids[NR] = $1 }
      END {
        keep[root] = 1; print root
        changed = 1
        while (changed) {
          changed = 0
          for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; changed = 1 } }
        }
      }'
  else
    echo "$root"
  fi
}

stop_pid() { # PID: TERM the process tree, wait up to 5 s, then KILL what is left
  local pid=$1 p i tree
  kill -0 "$pid" 2>/dev/null || return 0
  tree="$(descendants "$pid")"
  for p in $tree; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
    log "bench: kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  # Fallback: a random port that nothing listens on (/proc/net/tcp*, state 0A = LISTEN).
  local port hex
  while :; do
    port=$((20000 + RANDOM % 30000))
    hex="$(printf ':%04X' "$port")"
    if ! awk '$4 == "0A" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q "$hex\$"; then
      echo "$port"
      return
    fi
  done
}

# wait_http URL [curl args...]: until the URL answers 200 (20 s), or fail.
wait_http() {
  local url=$1 i
  shift
  for ((i = 0; i < 200; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$@" "$url" 2>/dev/null)" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  return 1
}

# wait_proxy URL PID: until the URL answers at all (20 s, while PID lives), then up to 5 s more for a 200
# (a gateway may answer 503 while it gets ready); check_proxy then judges the answer.
wait_proxy() {
  local url=$1 pid=$2 i code
  for ((i = 0; i < 200; i++)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)"
    [[ $code != 000 ]] && break
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  [[ $code == 000 ]] && return 1
  for ((i = 0; i < 50 && code != 200; i++)); do
    sleep 0.1
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)"
  done
  return 0
}

# wait_port_line FILE PID: until FILE has a `port=N` line (20 s); prints N, or fails when PID died or time ran out.
wait_port_line() {
  local file=$1 pid=$2 i port
  for ((i = 0; i < 200; i++)); do
    port="$(sed -n 's/^port=\([0-9][0-9]*\).*/\1/p' "$file" 2>/dev/null | head -n1)"
    if [[ -n $port ]]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# peak RSS bookkeeping: reset (echo 5 > clear_refs) before a round, read VmHWM (KiB) summed over the tree after it.
RSS_RESET_OK=1
rss_reset() {
  local p
  for p in $(descendants "$1"); do
    echo 5 >"/proc/$p/clear_refs" 2>/dev/null || RSS_RESET_OK=0
  done
}
rss_peak_kib() { status_kib "$1" VmHWM; }
status_kib() { # PID FIELD: a /proc/PID/status field in KiB (VmHWM, VmRSS), summed over the process tree
  local p sum=0 v
  for p in $(descendants "$1"); do
    v="$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# ---------------------------------------------------------------------------------------------------------------------
# wrk and statistics

# run_wrk CONNS URL [wrk args...] -> "rps p50_us p99_us non2xx socket_errors timeouts"
run_wrk() {
  local conns=$1 url=$2 threads=2 out
  shift 2
  ((conns < threads)) && threads=$conns
  out="$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency "$@" "$url" 2>&1)" || {
    log "$out"
    echo "0 0 0 0 1 0"
    return 0
  }
  awk '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return v * 1000
      if (v ~ /m$/)  return v * 60e6
      if (v ~ /s$/)  return v * 1e6
      return v + 0
    }
    /^Requests\/sec:/                 { rps = $2 }
    $1 == "50%"                       { p50 = us($2) }
    $1 == "99%"                       { p99 = us($2) }
    /Non-2xx or 3xx responses:/       { bad = $NF }
    /Socket errors:/                  { gsub(",", ""); err = $4 + $6 + $8 + $10; tmo = $10 }
    END { printf "%.0f %.0f %.0f %d %d %d\n", rps, p50, p99, bad, err, tmo }' <<<"$out"
}

median() { # numbers... -> median
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt_lat() { # microseconds -> human
  awk -v v="$1" 'BEGIN { if (v < 1000) printf "%dus", v; else if (v < 1e6) printf "%.2fms", v / 1000; else printf "%.2fs", v / 1e6 }'
}
fmt_rps() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
fmt_mib() { awk -v v="$1" 'BEGIN { if (v <= 0) printf "-"; else printf "%.1f MiB", v / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0 || a <= 0) printf "-"; else printf "%.2fx", a / b }'; }

declare -A RPS P50 P99 PEAK BAD ERR TMO STEAL
NOTES=()
# shellcheck source=bench/steal.sh
. "$HERE/steal.sh"

# record KEY "rps p50 p99 bad err" [peak_kib]
record() {
  local key=$1 rps p50 p99 bad err tmo
  read -r rps p50 p99 bad err tmo <<<"$2"
  RPS[$key]+="$rps "
  P50[$key]+="$p50 "
  P99[$key]+="$p99 "
  BAD[$key]=$((${BAD[$key]:-0} + bad))
  ERR[$key]=$((${ERR[$key]:-0} + err))
  TMO[$key]=$((${TMO[$key]:-0} + ${tmo:-0}))
  if [[ -n ${3:-} ]] && ((${3} > ${PEAK[$key]:-0})); then PEAK[$key]=$3; fi
  return 0
}
stall_check() { # PREFIX NAME CONNS...: notes a connection count whose req/s is under 10% of the target's best
  local prefix=$1 name=$2 c v best=0
  shift 2
  for c in "$@"; do
    v="$(med_of RPS "$prefix,$name,$c")"
    ((v > best)) && best=$v
  done
  for c in "$@"; do
    v="$(med_of RPS "$prefix,$name,$c")"
    if ((v > 0 && v * 10 < best)); then
      NOTES+=("$name c=$c: $v req/s is under 10% of its best ($best): it stalled; for a libmicrohttpd server at 128/256 connections see the MHD_epoll() note in bench/hello.c")
    fi
  done
  return 0
}
spread_of() { # ARRAYNAME KEY -> (max - min) / median of the rounds, as "12%"
  local -n arr=$1
  # shellcheck disable=SC2086
  printf '%s\n' ${arr[$2]:-0} | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (NR < 2 || m <= 0) print "-"; else printf "%.0f%%\n", 100 * (v[NR] - v[1]) / m }'
}
med_of() { # ARRAYNAME KEY
  local -n arr=$1
  # shellcheck disable=SC2086
  median ${arr[$2]:-0}
}
MARK=""
problem_note() { # KEY LABEL: remembers wrk errors / non-2xx for the footnotes and appends " !" to MARK
  if ((${BAD[$1]:-0} > 0 || ${ERR[$1]:-0} > 0)); then
    NOTES+=("$2: ${BAD[$1]:-0} non-2xx responses, ${ERR[$1]:-0} socket errors (${TMO[$1]:-0} timeouts), over $ROUNDS rounds")
    MARK+=" !"
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------------------------------
# Header

hr() { printf '%*s\n' "${1:-100}" '' | tr ' ' '-'; }
print_header() {
  local cpu os
  # shellcheck source=/dev/null
  os="$(if . /etc/os-release 2>/dev/null; then echo "${PRETTY_NAME:-}"; fi)"
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
  hr
  echo "labgate benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, kernel $(uname -r)${os:+, $os}"
  echo "tools:    $(wrk -v 2>&1 | head -n1 | awk '{ print "wrk", $2 }'), $(nginx -v 2>&1 | sed 's/.*: //' || echo 'nginx -'), $(haproxy -v 2>/dev/null | head -n1 | awk '{ print "haproxy", $3 }' || echo 'haproxy -'), libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd-dev 2>/dev/null || echo '?')"
  local load
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 0.5 * n) }'; then
    echo "load:     1-min load average $load at start: the machine is busy, expect noisy numbers (see the spread columns)"
  else
    echo "load:     1-min load average $load at start"
  fi
  echo "method:   wrk --latency, ${DURATION}s per round, ${ROUNDS} rounds per target interleaved (median shown); -t2 (-t1 at 1 connection); loopback only"
  hr
}

# ---------------------------------------------------------------------------------------------------------------------
# Part "server": bare C libmicrohttpd vs MicroHTTPServer (HelloServer)

build_c() { # NAME SOURCE [CFLAGS...] -> path of bench/out/NAME built from SOURCE with libmicrohttpd, or "" with a
  # message on stderr. Always rebuilt (well under a second), so the flags given always apply.
  local name=$1 source=$2 out="$HERE/out/$1" cc="${CC:-}" c
  shift 2
  if [[ -z $cc ]]; then
    for c in cc gcc clang; do command -v "$c" >/dev/null && cc=$c && break; done
  fi
  if [[ -z $cc ]]; then
    log "bench: no C compiler (cc, gcc, clang); cannot build $name"
    return 0
  fi
  mkdir -p "$HERE/out"
  if "$cc" -O2 "$@" -o "$out" "$source" -lmicrohttpd -lpthread; then
    echo "$out"
  else
    log "bench: building $name failed:  $cc -O2 $* -o $out $source -lmicrohttpd -lpthread"
  fi
}

build_hello_c() { # -> path of the hello-c binary, or "" with a message on stderr
  if [[ -n ${HELLO_C:-} ]]; then
    if [[ -x $HELLO_C ]]; then echo "$HELLO_C"; else log "bench: HELLO_C=$HELLO_C is not executable"; fi
    return 0
  fi
  # BENCH_HELLO_CFLAGS (e.g. -DHELLO_EXTERNAL_LOOP), split into words.
  # shellcheck disable=SC2086
  build_c hello-c "$HERE/hello.c" ${BENCH_HELLO_CFLAGS--DHELLO_EXTERNAL_LOOP}
}

part_server() {
  echo
  echo "== Part 1: HTTP server: bare C libmicrohttpd (hello-c) vs MicroHTTPServer (HelloServer) =="
  local hc hs names=() urls=() pids=() n i c r name res
  hc="$(build_hello_c)"
  hs="${HELLO_SWIFT:-}"

  if [[ -n $hc ]]; then
    "$hc" 0 >"$TMP/hello-c.out" 2>&1 &
    PIDS+=($!)
    pids+=($!)
    if port="$(wait_port_line "$TMP/hello-c.out" "$!")" && wait_http "http://127.0.0.1:$port/"; then
      names+=(hello-c)
      urls+=("http://127.0.0.1:$port/")
    else
      echo "skipped hello-c: it did not start; its output:"
      sed 's/^/  | /' "$TMP/hello-c.out"
    fi
  else
    echo "skipped hello-c: no binary (see the message above)"
  fi

  if [[ -z $hs ]]; then
    echo "skipped HelloServer: HELLO_SWIFT is not set (make bench sets it to the release HelloServer binary)"
  elif [[ ! -x $hs ]]; then
    echo "skipped HelloServer: $hs does not exist or is not executable (build: swift build -c release --product HelloServer)"
  else
    "$hs" --port 0 >"$TMP/hello-swift.out" 2>&1 &
    PIDS+=($!)
    pids+=($!)
    if port="$(wait_port_line "$TMP/hello-swift.out" "$!")" && wait_http "http://127.0.0.1:$port/"; then
      names+=(HelloServer)
      urls+=("http://127.0.0.1:$port/")
    else
      echo "skipped HelloServer: it did not start or print port=N; its output:"
      sed 's/^/  | /' "$TMP/hello-swift.out" | tail -n 20
    fi
  fi

  n=${#names[@]}
  if ((n == 0)); then
    echo "part skipped: neither server is available"
    return 0
  fi

  # Same bytes from both? (status, content type, body)
  for ((i = 0; i < n; i++)); do
    res="$(curl -s -D - "${urls[$i]}" | tr -d '\r' | awk 'NR == 1 { s = $2 } tolower($1) == "content-type:" { t = $2 } /^$/ { body = 1; next } body { b = b $0 } END { print s, t, b }')"
    if [[ $res != '200 application/json {"hello":"world"}' ]]; then
      echo "warning: ${names[$i]} answers '$res', not '200 application/json {\"hello\":\"world\"}'"
    fi
  done

  log "warm-up: 2 s per server"
  for ((i = 0; i < n; i++)); do DURATION=2 run_wrk 64 "${urls[$i]}" >/dev/null; done

  for c in $SERVER_CONNS; do
    for ((r = 1; r <= ROUNDS; r++)); do
      for ((i = 0; i < n; i++)); do
        res="$(run_wrk "$c" "${urls[$i]}")"
        record "srv,${names[$i]},$c" "$res"
        log "  c=$c round $r/$ROUNDS ${names[$i]}: $(awk '{ printf "%.0f req/s, p99 %d us", $1, $3; if ($5) printf ", %d socket errors (%d timeouts)", $5, $6 }' <<<"$res")"
      done
    done
  done

  echo
  printf '%-6s | %12s %7s %10s | %12s %7s %10s | %8s\n' conns "hello-c r/s" spread "p99" "Swift r/s" spread "p99" "Swift/C"
  hr 90
  local crps cp99 srps sp99 mark
  for c in $SERVER_CONNS; do
    crps="$(med_of RPS "srv,hello-c,$c")"
    cp99="$(med_of P99 "srv,hello-c,$c")"
    srps="$(med_of RPS "srv,HelloServer,$c")"
    sp99="$(med_of P99 "srv,HelloServer,$c")"
    MARK=""
    problem_note "srv,hello-c,$c" "hello-c c=$c"
    problem_note "srv,HelloServer,$c" "HelloServer c=$c"
    mark=$MARK
    printf '%-6s | %12s %7s %10s | %12s %7s %10s | %8s%s\n' "$c" \
      "$( ((crps > 0)) && fmt_rps "$crps" || echo -)" "$(spread_of RPS "srv,hello-c,$c")" "$( ((crps > 0)) && fmt_lat "$cp99" || echo -)" \
      "$( ((srps > 0)) && fmt_rps "$srps" || echo -)" "$(spread_of RPS "srv,HelloServer,$c")" "$( ((srps > 0)) && fmt_lat "$sp99" || echo -)" \
      "$(ratio "$srps" "$crps")" "$mark"
  done
  echo "(req/s and p99: median of $ROUNDS rounds of ${DURATION}s; spread: (max - min) / median of the rounds' req/s;"
  echo " issue 2 acceptance: Swift/C >= 0.80 at 64 connections)"
  # shellcheck disable=SC2086
  for name in "${names[@]}"; do stall_check srv "$name" $SERVER_CONNS; done

  # Issue 2: peak RSS while 1,000 keep-alive connections are open (each served one request, then idle).
  echo
  printf '%-12s | %18s | %14s\n' server "idle connections" "peak RSS"
  hr 52
  local ok port_of
  for ((i = 0; i < n; i++)); do
    port_of="${urls[$i]#http://127.0.0.1:}"
    port_of="${port_of%/}"
    rss_reset "${pids[$i]}"
    ok="$(python3 "$HERE/idle_connections.py" "$port_of" / "$IDLE_CONNS" 2 &
      sleep 1.5
      rss_peak_kib "${pids[$i]}" >"$TMP/idle-rss"
      wait)"
    printf '%-12s | %18s | %14s\n' "${names[$i]}" "$ok/$IDLE_CONNS" "$(fmt_mib "$(cat "$TMP/idle-rss")")"
  done
  echo "(issue 2 acceptance: MicroHTTPServer's peak RSS with 1,000 open keep-alive connections <= 64 MiB)"

  for i in "${pids[@]}"; do stop_pid "$i"; done
}

# ---------------------------------------------------------------------------------------------------------------------
# Part "proxy": static upstream, then nginx / HAProxy / labgate injecting the credential

nginx_common() { # DIR: main-context and http-context lines shared by both nginx instances
  local dir=$1
  mkdir -p "$dir/tmp" "$dir/logs"
  [[ $(id -u) -eq 0 ]] && echo "user root;"
  cat <<EOF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; }
EOF
}
nginx_http_common() {
  local dir=$1
  cat <<EOF
  access_log off;
  server_tokens off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_max_body_size 0;
EOF
}

write_upstream_conf() { # DIR PORT [SINK_PORT]
  local dir=$1 port=$2 sink_port=${3:-} auth upload
  mkdir -p "$dir/files" "$dir/uploads"
  truncate -s "${LARGE_MB}M" "$dir/files/large.bin"
  auth="if (\$http_authorization != \"Bearer $SECRET\") { return 401 '{\"detail\":\"missing or wrong credential\"}'; }"
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    # The upload sink must read the whole body before it answers: one that answered first would let a proxy drop the
    # rest of the body instead of forwarding it. hello-c does (it answers in libmicrohttpd's last call), and it
    # discards what it reads. A sink that stores the gigabyte (nginx's WebDAV PUT, to disk or to /dev/shm) pays for
    # a gigabyte of fresh pages each time, and this VM's page faults made the upload row spread 46-115% between rounds
    # (bench/RESULTS.md, session 11). Without hello-c (no C compiler), the WebDAV sink on disk stands in.
    if [[ -n $sink_port ]]; then
      echo "  upstream sink { server 127.0.0.1:$sink_port; keepalive 8; }"
      upload="proxy_pass http://sink; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_request_buffering off;"
    else
      upload="root $dir/uploads; dav_methods PUT; create_full_put_path on;"
    fi
    cat <<EOF
  default_type application/json;
  sendfile on;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /api/v1/ping { $auth return 200 '$PING_JSON'; }
    location = /api/v1/upload { $auth $upload }
    location /api/v1/files/ { $auth alias $dir/files/; default_type application/octet-stream; }
    location / { return 404 '{"detail":"not found"}'; }
  }
}
EOF
  } >"$dir/nginx.conf"
}

write_nginx_proxy_conf() { # DIR PORT UPSTREAM_PORT
  local dir=$1 port=$2 up=$3
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  upstream labric {
    server 127.0.0.1:$up;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / {
      proxy_pass http://labric;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer $SECRET";
      proxy_max_temp_file_size 0;
      proxy_request_buffering off;
    }
  }
}
EOF
  } >"$dir/nginx.conf"
}

write_haproxy_conf() { # FILE PORT UPSTREAM_PORT
  local pidfile
  pidfile="$(dirname "$1")/haproxy.pid"
  cat >"$1" <<EOF
global
  maxconn 8192
  pidfile $pidfile

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s
  option http-keep-alive
  http-reuse always

frontend fe
  bind 127.0.0.1:$2
  http-request set-header Authorization "Bearer $SECRET"
  default_backend labric

backend labric
  server upstream 127.0.0.1:$3
EOF
}

start_nginx() { # DIR: starts nginx (master in the foreground, as our child); its PID goes to PIDS and STARTED_PID
  nginx -p "$1" -c "$1/nginx.conf" -g 'daemon off;' >"$1/logs/stdout.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# check_proxy NAME URL: 200 with exactly the upstream JSON, also when the client sends a wrong Authorization.
check_proxy() {
  local name=$1 url=$2 code body
  code="$(curl -s -o "$TMP/check.body" -w '%{http_code}' --max-time 5 "$url" || true)"
  body="$(cat "$TMP/check.body" 2>/dev/null || true)"
  if [[ $code != 200 || $body != "$PING_JSON" ]]; then
    echo "skipped $name: GET $url answered $code '$body' instead of 200 with the upstream JSON"
    [[ $code == 401 ]] && echo "  (401 is the upstream's answer without 'Authorization: Bearer $SECRET': the credential was not injected)"
    return 1
  fi
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer client-supplied' "$url" || true)"
  if [[ $code != 200 ]]; then
    echo "skipped $name: with a client Authorization header it answered $code (the client's header reached the upstream)"
    return 1
  fi
  return 0
}

# admit NAME URL PID LOG...: wait for the proxy, check it (check_proxy), and add it to part_proxy's names/urls/pids
# (bash locals are dynamically scoped); otherwise say why it is skipped and show the end of its logs.
admit() {
  local name=$1 url=$2 pid=$3
  shift 3
  if ! wait_proxy "$url" "$pid"; then
    if kill -0 "$pid" 2>/dev/null; then
      echo "skipped $name: nothing answered $url within 20 s; its output:"
    else
      echo "skipped $name: it exited; its output:"
    fi
  elif check_proxy "$name" "$url"; then
    names+=("$name")
    urls+=("$url")
    pids+=("$pid")
    return 0
  else
    echo "  its output:"
  fi
  cat "$@" 2>/dev/null | tail -n 20 | sed 's/^/  | /'
  return 1
}

# start_upload_sink: sets SINK_PORT to the port of a hello-c serving as the upload sink, or to "" with a message on
# stderr. Not called in $(...): the sink's PID must reach PIDS, so that cleanup stops it.
start_upload_sink() {
  local hc
  SINK_PORT=""
  hc="$(build_hello_c)"
  [[ -n $hc ]] || return 0
  "$hc" 0 >"$TMP/upload-sink.out" 2>&1 &
  PIDS+=($!)
  SINK_PORT="$(wait_port_line "$TMP/upload-sink.out" "$!")" ||
    log "bench: the upload sink (hello-c) did not start: $(cat "$TMP/upload-sink.out")"
}

part_proxy() {
  echo
  echo "== Part 2: credential-injecting reverse proxy: nginx vs HAProxy vs labgate (upstream: static nginx, ${#PING_JSON}-byte JSON) =="
  local up upd names=() urls=() pids=() n i c r name res port dir pid code

  # Upstream
  upd="$TMP/upstream"
  up="$(free_port)"
  start_upload_sink
  write_upstream_conf "$upd" "$up" "$SINK_PORT"
  start_nginx "$upd"
  pid=$STARTED_PID
  if ! wait_http "http://127.0.0.1:$up/api/v1/ping" -H "Authorization: Bearer $SECRET"; then
    echo "part skipped: the upstream nginx did not start; its log:"
    sed 's/^/  | /' "$upd/logs/stdout.log" "$upd/logs/error.log" 2>/dev/null | tail -n 20
    return 0
  fi
  # The upstream must refuse requests without the exact credential, so a proxy that fails to inject it is caught.
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$up/api/v1/ping")"
  [[ $code == 401 ]] || die "upstream answered $code without Authorization (expected 401)"
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "http://127.0.0.1:$up/api/v1/ping")"
  [[ $code == 401 ]] || die "upstream answered $code to a wrong Authorization (expected 401)"
  code="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -r 0-0 -H "Authorization: Bearer $SECRET" "http://127.0.0.1:$up/api/v1/files/large.bin")"
  [[ $code == "206 1" ]] || die "upstream large file check answered '$code'"
  echo "upstream: 127.0.0.1:$up  GET /api/v1/ping (${#PING_JSON} B JSON), GET /api/v1/files/large.bin (${LARGE_MB} MiB), PUT /api/v1/upload; 401 without the credential (checked)"
  if [[ -n $SINK_PORT ]]; then
    echo "upload sink: the upstream streams PUT /api/v1/upload to hello-c on 127.0.0.1:$SINK_PORT, which discards it"
  else
    echo "upload sink: nginx WebDAV on disk (hello-c could not be built or started: see above); expect a noisy upload row"
  fi

  if [[ $DIRECT == 1 ]]; then
    names+=(direct)
    urls+=("http://127.0.0.1:$up/api/v1/ping")
    pids+=("")
  fi

  # nginx as proxy
  dir="$TMP/nginx-proxy"
  port="$(free_port)"
  mkdir -p "$dir"
  write_nginx_proxy_conf "$dir" "$port" "$up"
  start_nginx "$dir"
  pid=$STARTED_PID
  admit nginx "http://127.0.0.1:$port/api/v1/ping" "$pid" "$dir/logs/stdout.log" "$dir/logs/error.log" || true

  # HAProxy
  dir="$TMP/haproxy"
  port="$(free_port)"
  mkdir -p "$dir"
  write_haproxy_conf "$dir/haproxy.cfg" "$port" "$up"
  haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  admit haproxy "http://127.0.0.1:$port/api/v1/ping" "$pid" "$dir/haproxy.log" || true

  # labgate
  if [[ -z ${LABGATE:-} ]]; then
    echo "skipped labgate: LABGATE is not set (make bench sets it to the release labgate binary)"
  elif [[ ! -x $LABGATE ]]; then
    echo "skipped labgate: $LABGATE does not exist or is not executable (build: swift build -c release --product labgate)"
  else
    port="$(free_port)"
    (cd "$ROOT" && exec env LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" LABGATE_ACCESS_LOG="${BENCH_LABGATE_ACCESS_LOG:-off}" \
      "$LABGATE" serve --host 127.0.0.1 --port "$port") >"$TMP/labgate.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    admit labgate "http://127.0.0.1:$port/labric/api/v1/ping" "$pid" "$TMP/labgate.log" || true
  fi

  if [[ $CEILING == 1 ]]; then
    local ceiling
    ceiling="$(build_c relay-ceiling "$HERE/relay-ceiling.c")"
    if [[ -n $ceiling ]]; then
      port="$(free_port)"
      LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" \
        "$ceiling" serve --host 127.0.0.1 --port "$port" >"$TMP/relay-ceiling.log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      admit c-ceiling "http://127.0.0.1:$port/labric/api/v1/ping" "$pid" "$TMP/relay-ceiling.log" || true
    else
      echo "skipped c-ceiling: bench/relay-ceiling.c could not be built (see above)"
    fi
  fi

  n=${#names[@]}
  if ((n == 0)); then
    echo "part skipped: no proxy could be measured"
    return 0
  fi

  log "warm-up: 2 s per target"
  for ((i = 0; i < n; i++)); do
    if [[ ${names[$i]} == direct ]]; then
      DURATION=2 run_wrk 64 "${urls[$i]}" -H "Authorization: Bearer $SECRET" >/dev/null
    else
      DURATION=2 run_wrk 64 "${urls[$i]}" >/dev/null
    fi
  done

  local peak steal steal0 all0
  for c in $PROXY_CONNS; do
    for ((r = 1; r <= ROUNDS; r++)); do
      for ((i = 0; i < n; i++)); do
        name=${names[$i]}
        read -r steal0 all0 <<<"$(machine_ticks)"
        if [[ $name == direct ]]; then
          res="$(run_wrk "$c" "${urls[$i]}" -H "Authorization: Bearer $SECRET")"
          peak=""
        else
          rss_reset "${pids[$i]}"
          res="$(run_wrk "$c" "${urls[$i]}")"
          peak="$(rss_peak_kib "${pids[$i]}")"
        fi
        steal="$(steal_since "$steal0" "$all0")"
        record "px,$name,$c" "$res" "$peak"
        ((steal > ${STEAL[px,$name,$c]:-0})) && STEAL[px,$name,$c]=$steal
        log "  c=$c round $r/$ROUNDS $name: $(awk '{ printf "%.0f req/s, p50 %d us, p99 %d us", $1, $2, $3; if ($4) printf ", %d non-2xx", $4; if ($5) printf ", %d socket errors", $5 }' <<<"$res")${peak:+, peak RSS $((peak / 1024)) MiB}, steal $steal%"
      done
    done
  done

  echo
  printf '%-6s %-9s | %10s %7s %9s %9s | %11s | %6s | %8s %8s\n' conns proxy "req/s" spread p50 p99 "peak RSS" steal \
    "rps/ngx" "p99/ngx"
  hr 103
  local key nkey rps p50 p99 nrps np99 mark
  for c in $PROXY_CONNS; do
    nkey="px,nginx,$c"
    nrps="$(med_of RPS "$nkey")"
    np99="$(med_of P99 "$nkey")"
    for name in "${names[@]}"; do
      key="px,$name,$c"
      rps="$(med_of RPS "$key")"
      p50="$(med_of P50 "$key")"
      p99="$(med_of P99 "$key")"
      MARK=""
      problem_note "$key" "$name c=$c"
      mark=$MARK
      printf '%-6s %-9s | %10s %7s %9s %9s | %11s | %6s | %8s %8s%s\n' "$c" "$name" "$(fmt_rps "$rps")" \
        "$(spread_of RPS "$key")" "$(fmt_lat "$p50")" "$(fmt_lat "$p99")" "$(fmt_mib "${PEAK[$key]:-0}")" \
        "${STEAL[$key]:-0}%" "$(ratio "$rps" "$nrps")" "$(ratio "$p99" "$np99")" "$mark"
    done
  done
  echo "(median of $ROUNDS rounds of ${DURATION}s; spread: (max - min) / median of the rounds' req/s. peak RSS:"
  echo " VmHWM summed over the proxy's processes (nginx: master + workers),"
  if ((RSS_RESET_OK)); then
    echo " reset before each round, max over rounds."
  else
    echo " NOT reset between rounds (clear_refs not writable), so cumulative over the run."
  fi
  [[ $DIRECT == 1 ]] && echo " 'direct': wrk straight to the upstream (sending the credential itself), for reference."
  [[ " ${names[*]} " == *" c-ceiling "* ]] && echo " 'c-ceiling': bench/relay-ceiling.c, the thinnest proxy on libmicrohttpd in C, for reference."
  echo " steal: the most of the machine's time the VM host took during one of the row's rounds (/proc/stat); a row"
  echo " with steal ran on less CPU than its neighbours, and its ratio to nginx says more about the host than the proxy."
  echo " nginx and HAProxy log nothing per request; labgate's stdout/stderr go to a file."
  echo " Issue 7 target at 64 connections: labgate rps/ngx >= 1.00 and p99/ngx <= 1.00)"
  # shellcheck disable=SC2086
  for name in "${names[@]}"; do stall_check px "$name" $PROXY_CONNS; done
  if [[ " ${names[*]} " == *" labgate "* ]]; then
    echo "(labgate wrote $(stat -c %s "$TMP/labgate.log") bytes of log during the run)"
  fi

  # The ceiling relays small answers only: it leaves before the transfers.
  for ((i = 0; i < ${#names[@]}; i++)); do
    [[ ${names[$i]} == c-ceiling ]] || continue
    stop_pid "${pids[$i]}"
    names=("${names[@]:0:i}" "${names[@]:i+1}")
    urls=("${urls[@]:0:i}" "${urls[@]:i+1}")
    pids=("${pids[@]:0:i}" "${pids[@]:i+1}")
    break
  done
  proxy_transfers
  proxy_idle

  for pid in "${pids[@]}"; do [[ -n $pid ]] && stop_pid "$pid"; done
  return 0
}

# shellcheck source=bench/extras.sh
. "$HERE/extras.sh"

# ---------------------------------------------------------------------------------------------------------------------

START=$SECONDS
print_header
case "$PART" in
  server) part_server ;;
  proxy) part_proxy ;;
  storm) part_storm ;;
  all)
    part_server
    part_proxy
    part_storm
    ;;
esac
if ((${#NOTES[@]})); then
  echo
  echo "! problems (rows marked ! had non-2xx responses or socket errors):"
  printf '  %s\n' "${NOTES[@]}"
fi
echo
echo "total time: $((SECONDS - START)) s"
