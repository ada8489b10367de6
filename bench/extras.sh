# Sourced by bench/bench.sh: the parts of `make bench` beyond wrk's req/s table (issue 7).
#
#   proxy_transfers   BENCH_LARGE_MB (1 GiB) down and up through each proxy of part "proxy", BENCH_TRANSFER_ROUNDS
#                     (3) rounds interleaved: median throughput, spread and peak RSS growth
#   proxy_idle        1,000 idle keep-alive connections held open through each proxy: peak RSS
#   part_storm        the token storm: about 10,000 Genie private-API requests through `labgate sandbox`, paced over
#                     three private-token lifetimes; exchanges counted by the Genie simulator
#
# proxy_transfers and proxy_idle run inside part_proxy and read its `names`, `urls` and `pids` (bash locals are
# dynamically scoped), so they measure the very processes of the req/s table.

BENCH_STORM_REQUESTS="${BENCH_STORM_REQUESTS:-10000}"
BENCH_STORM_TTL="${BENCH_STORM_TTL:-3}"
BENCH_STORM_CONNS="${BENCH_STORM_CONNS:-32}"

# prefix_of URL: the proxy's base for the upstream's paths (".../api/v1/ping" -> "...").
prefix_of() { echo "${1%/api/v1/ping}"; }

fmt_growth() { awk -v v="$1" 'BEGIN { if (v < 0) v = 0; printf "%.1f MiB", v / 1024 }'; }

proxy_transfers() {
  local i r name pid prefix auth before peak out code speed size mb=$LARGE_MB rounds=${BENCH_TRANSFER_ROUNDS:-3}
  local up_file="$TMP/upload.bin"
  truncate -s "${mb}M" "$up_file"
  # A sparse file's first read fills the page cache with its zero pages at about half the speed of later reads: read
  # both once here, so that the first round's first target (direct, or nginx with BENCH_DIRECT=0) does not pay for it.
  cat "$up_file" "$TMP/upstream/files/large.bin" >/dev/null 2>&1 || true
  echo
  echo "-- ${mb} MiB each way through each proxy (curl, one transfer at a time, $rounds rounds interleaved, median;"
  echo "   RSS growth = peak VmHWM - VmRSS before, max over rounds)"
  printf '%-9s | %-8s | %12s %7s %9s | %12s\n' proxy direction "MB/s" spread "vs nginx" "peak RSS +"
  hr 70
  declare -A SPEEDS=() GROWTH=() SPEED=()
  local dir
  for dir in down up; do
    # Rounds go round the proxies, so that a slow moment of the machine hits them all alike.
    for ((r = 0; r < rounds; r++)); do
      for ((i = 0; i < ${#names[@]}; i++)); do
        name=${names[$i]}
        pid=${pids[$i]}
        prefix="$(prefix_of "${urls[$i]}")"
        auth=()
        [[ $name == direct ]] && auth=(-H "Authorization: Bearer $SECRET")
        if [[ -n $pid ]]; then
          rss_reset "$pid"
          before="$(status_kib "$pid" VmRSS)"
        fi
        if [[ $dir == down ]]; then
          out="$(curl -sS -o /dev/null -w '%{http_code} %{speed_download} %{size_download}' "${auth[@]}" \
            "$prefix/api/v1/files/large.bin" 2>&1 || true)"
        else
          out="$(curl -sS -o /dev/null -w '%{http_code} %{speed_upload} %{size_upload}' "${auth[@]}" \
            -T "$up_file" "$prefix/api/v1/upload" 2>&1 || true)"
        fi
        read -r code speed size <<<"$out"
        if [[ $code != 2?? || $size != $((mb << 20)) ]]; then
          NOTES+=("$name $dir ${mb} MiB: curl said '$out' (expected 2xx and $((mb << 20)) bytes)")
          speed=0
        fi
        SPEEDS[$name,$dir]+="$speed "
        if [[ -n $pid ]]; then
          peak=$(($(rss_peak_kib "$pid") - before))
          ((peak > ${GROWTH[$name,$dir]:--1})) && GROWTH[$name,$dir]=$peak
        fi
      done
    done
    for ((i = 0; i < ${#names[@]}; i++)); do
      name=${names[$i]}
      # shellcheck disable=SC2086
      SPEED[$name,$dir]="$(median ${SPEEDS[$name,$dir]})"
      printf '%-9s | %-8s | %12s %7s %9s | %12s\n' "$name" "$dir" \
        "$(awk -v s="${SPEED[$name,$dir]}" 'BEGIN { printf "%.0f", s / 1e6 }')" "$(spread_of SPEEDS "$name,$dir")" \
        "$(ratio "${SPEED[$name,$dir]}" "${SPEED[nginx,$dir]:-0}")" \
        "$([[ -n ${GROWTH[$name,$dir]:-} ]] && fmt_growth "${GROWTH[$name,$dir]}" || echo -)"
    done
  done
  rm -f "$up_file"
  echo "(Issue 7 target: labgate >= 0.80x nginx each way, peak RSS growth <= 32 MiB)"
}

proxy_idle() {
  local i name pid prefix hostport ok peak count=${BENCH_IDLE_CONNS:-1000}
  echo
  echo "-- $count idle keep-alive connections through each proxy (each served one request, then held open)"
  printf '%-9s | %12s | %12s\n' proxy served "peak RSS"
  hr 40
  for ((i = 0; i < ${#names[@]}; i++)); do
    name=${names[$i]}
    pid=${pids[$i]}
    [[ -z $pid ]] && continue
    prefix="$(prefix_of "${urls[$i]}")"
    hostport=${prefix#http://}
    hostport=${hostport%%/*}
    rss_reset "$pid"
    # The proxy's path; the upstream answers 401 to it without the credential, so a 2xx proves the proxy injected it.
    ok="$(python3 "$HERE/idle_connections.py" "${hostport##*:}" "${prefix#http://"$hostport"}/api/v1/ping" "$count" 2)"
    peak="$(rss_peak_kib "$pid")"
    printf '%-9s | %12s | %12s\n' "$name" "$ok/$count" "$(fmt_mib "$peak")"
  done
  echo "(Issue 7 target: labgate peak RSS <= 64 MiB)"
}

part_storm() {
  echo
  echo "== Part 3: token storm: about $BENCH_STORM_REQUESTS Genie private-API requests over 3 token lifetimes of ${BENCH_STORM_TTL}s (labgate sandbox) =="
  if [[ -z ${LABGATE:-} || ! -x ${LABGATE:-} ]]; then
    echo "part skipped: LABGATE is not set to the release labgate binary"
    return 0
  fi
  local port pid script out total non2xx logins seconds delay threads=2
  port="$(free_port)"
  (cd "$ROOT" && exec env LABGATE_ACCESS_LOG=off "$LABGATE" sandbox --port "$port" --genie-token-ttl "$BENCH_STORM_TTL") \
    >"$TMP/storm.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ! wait_http "http://127.0.0.1:$port/readyz"; then
    echo "part skipped: labgate sandbox did not become ready; its output:"
    tail -n 20 "$TMP/storm.log" | sed 's/^/  | /'
    return 0
  fi
  curl -s -o /dev/null -X POST "http://127.0.0.1:$port/genie/_sandbox/stats/reset"
  # Paced over exactly three lifetimes: each connection waits `delay` ms after each answer (wrk's delay hook), so
  # the count comes out near BENCH_STORM_REQUESTS (a little under: the answers' own latency adds to the period).
  delay=$((BENCH_STORM_CONNS * 3 * BENCH_STORM_TTL * 1000 / BENCH_STORM_REQUESTS))
  script="$TMP/storm.lua"
  echo "function delay() return $delay end" >"$script"
  out="$(wrk -t"$threads" -c"$BENCH_STORM_CONNS" -d"$((3 * BENCH_STORM_TTL))s" -s "$script" \
    "http://127.0.0.1:$port/genie/catalog/library" 2>&1 || true)"
  total="$(awk '/requests in/ { print $1 }' <<<"$out")"
  seconds="$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
  logins="$(curl -s "http://127.0.0.1:$port/genie/_sandbox/stats" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["counters"].get("genie.logins", 0))' 2>/dev/null || echo "?")"
  printf '%-10s %-10s %-10s %-12s %-10s %s\n' requests seconds lifetimes "non-2xx" exchanges "expected"
  printf '%-10s %-10s %-10s %-12s %-10s %s\n' "${total:-?}" "${seconds:-?}" \
    "$(awk -v s="${seconds:-0}" -v t="$BENCH_STORM_TTL" 'BEGIN { printf "%.1f", s / t }')" "${non2xx:-0}" "$logins" \
    "$(awk -v s="${seconds:-0}" -v t="$BENCH_STORM_TTL" 'BEGIN { printf "%d-%d", s / (0.75 * t), s / (0.65 * t) + 1 }')"
  echo "(exchanges: the Genie simulator's successful logins during the storm; labgate refreshes each token at 65-75%"
  echo " of its lifetime, hence 'expected'; every request must succeed: non-2xx 0)"
  stop_pid "$pid"
}
