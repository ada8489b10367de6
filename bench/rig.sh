# shellcheck shell=bash
# The pieces of a scratch rig, sourced by cpu.sh, upload.sh and callgrind.sh: a temporary directory and the processes
# stopped on exit, a free port, an nginx of two workers.

# rig_start NAME [KEEP]: TMP, a new directory; PIDS, the processes to stop; and the exit trap that stops them (TERM,
# then waits for each) and removes TMP, or leaves it and says where when KEEP is 1.
rig_start() {
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/labgate-$1.XXXXXX")"
  PIDS=()
  RIG_KEEP=${2:-0}
  trap rig_cleanup EXIT
}
rig_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $RIG_KEEP == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}

# A port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# nginx_conf DIR HTTP_LINES: DIR/nginx.conf for an nginx of 2 workers, logs and temp files under DIR, access log
# off, with HTTP_LINES (upstreams, servers, settings) in its http block.
nginx_conf() {
  mkdir -p "$1/logs" "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
$([[ $(id -u) -eq 0 ]] && echo "user root;")
worker_processes 2;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp/body; proxy_temp_path $1/tmp/proxy; fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi; scgi_temp_path $1/tmp/scgi;
  $2
}
EOF
}
