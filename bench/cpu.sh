#!/usr/bin/env bash
# CPU time per proxied request, nginx vs labgate, in the same run: what req/s cannot show on a 2-core machine that
# wrk and the upstream share with the proxy (a proxy that is cheaper per request wins once the machine is full).
#
#   bench/cpu.sh [LABGATE_BINARY]     (default: .build/release/labgate)
#
# Starts a static upstream (nginx, 2 workers, bench.sh's 76-byte JSON at /api/v1/ping, 401 without the credential),
# nginx as the credential-injecting proxy (2 workers, keep-alive upstream) and `labgate serve`, then runs
# `wrk -t2 -cCONNS -dDURs` against each, alternating (the two labgates' order swapped every other round), ROUNDS
# times, and prints req/s, p99, the proxy's CPU share
# (user + system ticks of its processes over the round), the CPU microseconds per request, split into user and
# system time (the kernel's part is the larger; over six rounds labgate's was 1.65 µs over the Swift ceiling's for the
# same packets and system calls, session 19), how often the
# proxy's threads were preempted per request (involuntary context switches: a loop that shares its CPU with the
# other loop shows here, session 12), the upstream's CPU microseconds per request (the same behind either proxy:
# the proxy's own cost is what differs, session 13), and the share of the machine's time stolen by the VM host
# during the round. With more than one round it ends with each target's medians and its req/s against nginx's.
# Like bench.sh, everything runs in this script's session, so in one of the kernel's scheduling groups (autogroup):
# rigs that start a server with `setsid` or daemonized put it in a group of its own and measure another p99.
# Environment: CONNS (64), DUR (4), ROUNDS (2); LABGATE_B, a second labgate binary run as a third target in the
# same rounds (an A/B of two builds); CEILING=1 adds bench/relay-ceiling.c (built here): the thinnest proxy on
# libmicrohttpd in C, what the library leaves for labgate's own layers (session 15); SYSCALLS=1 counts each target's
# system calls and context switches per request with `perf stat` (needs perf and root; perf's own cost then shows in
# the CPU figures, so use it for the split, not for req/s). Everything on 127.0.0.1, free ports, stopped on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LABGATE="${1:-$HERE/../.build/release/labgate}"
CONNS="${CONNS:-64}" DUR="${DUR:-4}" ROUNDS="${ROUNDS:-2}"
SECRET=lbk_bench_secret
PING_JSON='{"status":"ok","service":"labric","version":"0.14.17","time":"2026-01-01T00:00:00Z"}'
# shellcheck source=bench/rig.sh
. "$HERE/rig.sh"
rig_start cpu
ticks() { # PIDS... -> "user system preemptions", ticks and involuntary switches summed over the processes' threads
  local user=0 system=0 preempted=0 pid u s n
  for pid in "$@"; do
    read -r u s < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
    n=$(cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt_switches/ { n += $2 } END { print n + 0 }')
    user=$((user + u)) system=$((system + s)) preempted=$((preempted + n))
  done
  echo "$user $system $preempted"
}
# shellcheck source=bench/steal.sh
. "$HERE/steal.sh"

up="$(free_port)" px="$(free_port)"
keepalive='keepalive_requests 1000000; keepalive_timeout 300s; default_type application/json;'
nginx_conf "$TMP/up" "$keepalive server { listen 127.0.0.1:$up; location = /api/v1/ping {
  if (\$http_authorization != \"Bearer $SECRET\") { return 401 '{\"detail\":\"missing or wrong credential\"}'; }
  return 200 '$PING_JSON'; } }"
nginx_conf "$TMP/px" "$keepalive upstream labric { server 127.0.0.1:$up; keepalive 256; keepalive_requests 1000000; keepalive_timeout 300s; }
  server { listen 127.0.0.1:$px; location /labric/ { proxy_pass http://labric/; proxy_http_version 1.1;
  proxy_set_header Connection \"\"; proxy_set_header Authorization \"Bearer $SECRET\"; } }"
nginx -p "$TMP/up" -c "$TMP/up/nginx.conf" -g 'daemon off;' &
upstream_master=$!
PIDS+=("$upstream_master")
nginx -p "$TMP/px" -c "$TMP/px/nginx.conf" -g 'daemon off;' &
proxy_master=$!
PIDS+=("$proxy_master")
declare -A PORT=([nginx]=$px) PID=()
SYSCALL_EVENTS=syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg
SYSCALL_EVENTS+=,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,context-switches
targets=(nginx)
start_target() { # NAME BINARY: a proxy taking `labgate serve`'s command line, in front of the upstream, as a target
  local port
  port="$(free_port)"
  LABRIC_API_BASE_URL="http://127.0.0.1:$up" LABRIC_API_KEY="$SECRET" LABGATE_ACCESS_LOG=off \
    "$2" serve --host 127.0.0.1 --port "$port" >"$TMP/$1.log" 2>&1 &
  PID[$1]=$!
  PIDS+=("${PID[$1]}")
  PORT[$1]=$port
  targets+=("$1")
}
start_target labgate "$LABGATE"
if [[ -n ${LABGATE_B:-} ]]; then start_target labgate-b "$LABGATE_B"; fi
if [[ ${CEILING:-0} == 1 ]]; then
  cc -O2 -o "$TMP/relay-ceiling" "$HERE/relay-ceiling.c" -lmicrohttpd -lpthread
  start_target c-ceiling "$TMP/relay-ceiling"
fi
for port in "${PORT[@]}"; do
  for _ in $(seq 100); do
    [[ "$(curl -s "http://127.0.0.1:$port/labric/api/v1/ping")" == "$PING_JSON" ]] && break
    sleep 0.1
  done
  [[ "$(curl -s "http://127.0.0.1:$port/labric/api/v1/ping")" == "$PING_JSON" ]] || { echo "cpu.sh: :$port is not proxying" >&2; exit 1; }
done
read -r -a nginx_workers <<<"$(pgrep -P "$proxy_master" | tr '\n' ' ')"
read -r -a upstream_workers <<<"$(pgrep -P "$upstream_master" | tr '\n' ' ')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNS -d${DUR}s, $ROUNDS rounds, alternating"
printf '%-9s %10s %10s %6s %12s %6s %6s %10s %9s %6s\n' proxy req/s p99 cpu "us/request" user sys "preempt/rq" \
  "upstream" steal
for target in "${targets[@]}"; do  # warm-up
  wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:${PORT[$target]}/labric/api/v1/ping" >/dev/null
done
for ((round = 0; round < ROUNDS; round++)); do
  # Every other round takes the labgates in reverse order: the one that runs right after nginx did better in A/Bs of
  # equal builds (p99 in 10 of 12 rounds, session 11), so a fixed order favours one build.
  order=("${targets[@]}")
  if ((round % 2 == 1)) && [[ -n ${LABGATE_B:-} ]]; then order=(nginx labgate-b labgate "${targets[@]:3}"); fi
  for target in "${order[@]}"; do
    port=${PORT[$target]}
    if [[ $target == nginx ]]; then pids=("${nginx_workers[@]}"); else pids=("${PID[$target]}"); fi
    read -r user0 system0 preempted0 <<<"$(ticks "${pids[@]}")"
    read -r upuser0 upsystem0 _ <<<"$(ticks "${upstream_workers[@]}")"
    read -r steal0 all0 <<<"$(machine_ticks)"
    if [[ ${SYSCALLS:-0} == 1 ]]; then
      # `sleep` bounds the count to the round; wrk's start-up falls outside it.
      perf stat -x, -o "$TMP/syscalls" -e "$SYSCALL_EVENTS" -p "$(IFS=,; echo "${pids[*]}")" -- sleep "$DUR" &
      perf_pid=$!
    fi
    out="$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$port/labric/api/v1/ping")"
    read -r user1 system1 preempted1 <<<"$(ticks "${pids[@]}")"
    read -r upuser1 upsystem1 _ <<<"$(ticks "${upstream_workers[@]}")"
    steal="$(steal_since "$steal0" "$all0")"
    grep -q "Non-2xx" <<<"$out" && { echo "cpu.sh: $target answered non-2xx" >&2; exit 1; }
    rps="$(awk '/Requests\/sec/ { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    awk -v t="$target" -v r="$rps" -v p="$p99" -v u=$((user1 - user0)) -v k=$((system1 - system0)) -v d="$DUR" \
      -v s="$steal" -v n=$((preempted1 - preempted0)) -v up=$((upuser1 + upsystem1 - upuser0 - upsystem0)) \
      'BEGIN { c = u + k
        printf "%-9s %10.0f %10s %5.0f%% %12.1f %6.1f %6.1f %10.2f %9.1f %5d%%\n", t, r, p, c / d,
          c * 10000 / (d * r), u * 10000 / (d * r), k * 10000 / (d * r), n / (d * r), up * 10000 / (d * r), s }' |
      tee -a "$TMP/rows"
    if [[ ${SYSCALLS:-0} == 1 ]]; then
      wait "$perf_pid"
      # perf's CSV: count,unit,event,...; the line gives each event per request, names without the tracepoint prefix.
      awk -F, -v r="$rps" -v d="$DUR" '$3 != "" && $1 ~ /^[0-9]+$/ { name = $3; sub(/^syscalls:sys_enter_/, "", name)
          line = line sprintf(" %s %.2f", name, $1 / (r * d)) } END { print "          per request:" line }' \
        "$TMP/syscalls"
    fi
  done
done
# Each target's medians over the rounds, and its req/s against nginx's median: the figures an A/B is read by (counted
# by hand they were miscounted, session 19). p99 in ms.
if ((ROUNDS > 1)); then
  echo "median of $ROUNDS rounds:"
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    function median(list,    a, i, j, t, n) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    !($1 in seen) { seen[$1] = 1; order[++targets] = $1 }
    { sub(/%$/, "", $4); for (c = 2; c <= 9; c++) col[$1, c] = col[$1, c] " " (c == 3 ? ms($3) : $c) }
    END {
      for (i = 1; i <= targets; i++) {
        t = order[i]
        rps = median(col[t, 2]); if (t == "nginx") base = rps
        printf "%-9s %10.0f %8.2fms %5.0f%% %12.1f %6.1f %6.1f %10.2f %9.1f %7s\n", t, rps, median(col[t, 3]),
          median(col[t, 4]), median(col[t, 5]), median(col[t, 6]), median(col[t, 7]), median(col[t, 8]),
          median(col[t, 9]), base ? sprintf("%.3fx", rps / base) : ""
      }
    }' "$TMP/rows"
fi
