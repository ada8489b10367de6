# The relay path's stages, in instructions a request, from `callgrind_annotate --inclusive=yes` output of a dump
# (bench/callgrind.sh prints it after each run). A stage is what functions of labgate's include: their mangled names'
# pieces are below, and a stage whose function is gone (renamed by a change to the request path) prints "?" until
# its piece here is updated. Set n (requests in the dump) and total (its instructions) with -v.
BEGIN {
  piece["uri"] = "MicroHTTPServer14uriLogCallback"            # the exchange made, the target read
  piece["access"] = "MicroHTTPServer13accessHandler"          # every handler call: begin, parked rounds, the answer
  piece["relay"] = "Gateway0A9ResponderC5relay"                # the rules, then the forward
  piece["forward"] = "Gateway9ForwarderV7forward_6target6report"
  piece["ready"] = "UpstreamLink0B10ConnectionC5ready"         # an upstream socket's event: the answer
  piece["finish"] = "MicroHTTPServer8ExchangeC22finishUploadAndRespond"  # queuing only: the response is made in "ready" (session 20)
  piece["completed"] = "MicroHTTPServer16requestCompleted"
  piece["flush"] = "Gateway12RequestTallyC5flush"
}
/^ *[0-9,]+ \(/ {
  cost = $1
  gsub(",", "", cost)
  for (k in piece) if (index($0, piece[k]) && cost + 0 > got[k]) got[k] = cost + 0
}
function per(x) { return sprintf("%7d", x / n + 0.5) }
function row(label, keys, value,    i, list, count) {
  count = split(keys, list, " ")
  for (i = 1; i <= count; i++) if (!(list[i] in got)) { printf "  %-62s %7s\n", label, "?"; return 0 }
  printf "  %-62s %s\n", label, per(value)
  return value
}
END {
  printf "  %-62s %7s\n", "stage (inclusive, a request)", "instr"
  sum = row("the request into the exchange (URI, begin, parked calls)", "uri access relay finish",
    got["uri"] + got["access"] - got["relay"] - got["finish"])
  sum += row("the rules and the relay's set-up", "relay forward", got["relay"] - got["forward"])
  sum += row("the upstream head, written and handed to a connection", "forward", got["forward"])
  sum += row("the answer read, parsed, filtered, made libmicrohttpd's", "ready", got["ready"])
  sum += row("the answer queued in libmicrohttpd", "finish", got["finish"])
  sum += row("completion and metrics", "completed flush", got["completed"] + got["flush"])
  printf "  %-62s %s\n", "libmicrohttpd and the loop besides (the pool memset too)", per(total - sum)
}
