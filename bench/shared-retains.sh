#!/usr/bin/env bash
# Which objects more than one thread of a running labgate retains and releases under load: each such retain or
# release is a write to a line that the other core also writes (issue 7, session 11, found 13 pairs a request).
#
#   bench/shared-retains.sh PID URL     e.g. bench/shared-retains.sh "$(pgrep -n labgate)" http://127.0.0.1:8080/labric/api/v1/ping
#
# Puts uprobes on libswiftCore's swift_retain and swift_release (perf probe, as root), records their first argument
# for half a second of `wrk -t2 -c64` against URL, and lists the objects that two threads or more touched, busiest
# first, with each object's type from its metadata pointer (gdb). Immortal objects (the empty array, whose count is
# only read) show too. The probes slow labgate about tenfold: compare counts within one run, not with other runs.
# Needs perf, gdb, wrk; removes its probes on exit.
set -euo pipefail
PID=${1:?usage: $0 PID URL}
URL=${2:?usage: $0 PID URL}
for tool in perf gdb wrk; do command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 1; }; done
CORE="$(awk '/libswiftCore.so/ { print $6; exit }' "/proc/$PID/maps")"
[[ -n $CORE ]] || { echo "$0: $PID does not map libswiftCore.so" >&2; exit 1; }
TMP="$(mktemp -d "${TMPDIR:-/tmp}/labgate-retains.XXXXXX")"
cleanup() {
  perf probe -q -d 'probe_libswiftCore:*' 2>/dev/null || true
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT
perf probe -q -x "$CORE" -a 'swift_retain obj=%di:u64'
perf probe -q -x "$CORE" -a 'swift_release obj=%di:u64'

wrk -t2 -c64 -d3s "$URL" >/dev/null &
sleep 0.7
perf record -q -e probe_libswiftCore:swift_retain -e probe_libswiftCore:swift_release -p "$PID" -o "$TMP/perf.data" \
  -- sleep 0.5 2>/dev/null
wait
# object, thread -> count; then the objects that more than one thread touched, where no thread made 80% of the calls
perf script -i "$TMP/perf.data" -F tid,trace 2>/dev/null |
  awk '{ o = $NF; sub("obj=", "", o); n[o " " $1]++ } END { for (k in n) print n[k], k }' |
  awk '{ calls[$2] += $1; threads[$2]++; if ($1 > most[$2]) most[$2] = $1 }
       END { for (o in calls) if (threads[o] > 1 && most[o] < 0.8 * calls[o] && o + 0 > 0 && o + 0 < 2^63) print calls[o], o }' |
  sort -rn | head -20 >"$TMP/shared"
total="$(perf script -i "$TMP/perf.data" -F trace 2>/dev/null | wc -l)"
echo "retains and releases recorded: $total; objects touched by more than one thread:"
printf '%8s  %-16s  %s\n' calls object type
while read -r calls object; do
  hex="$(printf '0x%x' "$object")"
  # A static object (the empty array's storage) has a name of its own.
  named="$(gdb -p "$PID" -batch -nx -ex "info symbol $hex" </dev/null 2>/dev/null | awk '/ in section / { print $1 }' || true)"
  if [[ -n $named ]]; then
    printf '%8s  %-16s  %s\n' "$calls" "$hex" "$named (static)"
    continue
  fi
  metadata="$(gdb -p "$PID" -batch -nx -ex "x/1gx $hex" </dev/null 2>/dev/null | awk -v h="$hex:" '$1 == h { print $2 }' || true)"
  type="$(gdb -p "$PID" -batch -nx -ex "info symbol ${metadata:-0}" </dev/null 2>/dev/null |
    awk '/ in section / { print $1 }' || true)"
  printf '%8s  %-16s  %s\n' "$calls" "$hex" "$(swift demangle --compact "${type:-?}" 2>/dev/null || echo "${type:-?}")"
done <"$TMP/shared"
