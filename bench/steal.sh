# shellcheck shell=bash
# Stolen CPU time, sourced by bench.sh and cpu.sh. On a shared VM host a round that loses CPU to steal is slower for
# every proxy, and most for the one that spends more per request, so each round notes the share the host took.

# The machine's stolen and total ticks, "steal all" (/proc/stat).
machine_ticks() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# steal_since STEAL0 ALL0 -> the percentage of the machine's time stolen since that machine_ticks reading.
steal_since() {
  local steal1 all1
  read -r steal1 all1 <<<"$(machine_ticks)"
  awk -v s=$((steal1 - $1)) -v a=$((all1 - $2)) 'BEGIN { printf "%.0f", (a > 0 ? 100 * s / a : 0) }'
}
