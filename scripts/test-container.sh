#!/usr/bin/env bash
# `make test-container`: builds labgate's Docker image with rootful podman and checks the running container for real.
#
# How it works on machines with no Docker engine and no registry (../shared/CONTAINERS.md):
#   - podman keeps its state in one machine cache folder outside the checkout ($LABGATE_PODMAN_STATE, default
#     /var/cache/labgate-podman), so the two base images are made once per machine and later runs reuse them;
#   - when `swift:6.3-bookworm` or `debian:bookworm-slim` is missing there, it is made locally with mmdebstrap (the
#     Swift one with this machine's toolchain copied in) under the same name, so the Dockerfile stays unchanged;
#   - the build mounts the machine's Swift package mirror and a gitconfig holding only its URL redirects, read-only;
#   - it builds from a snapshot of the checkout; the Dockerfile's `.build` cache mount lives in $STATE/tmp/buildah-cache,
#     so after a source change only labgate's own modules are recompiled.
# Times measured on a 2-core machine shared with other builds: cold (base images + full build) 9 min (29 min under
# heavy load), warm 3 s with nothing changed, about 30 s after a source change.
#
# The upstream: a tiny Python Labric stand-in on the host, bound to the podman bridge's gateway address (reachable
# from the container, not from other machines). It answers 200 only when the request carries
# `Authorization: Bearer <the key in the secret file>` and records what it saw.
#
# Checks: GET /healthz is 200; `podman healthcheck run` is healthy; a proxied request reaches the upstream with the
# key from a secret file mounted at /run/secrets/labric_api_key (and not with the client's own Authorization); the
# container user is not root; no credential in the image's configuration; `podman stop -t 10` (SIGTERM) exits 0.
# The container runs with a read-only root filesystem (--read-only), as the README's Kubernetes example does.
# Prints PASS/FAIL per check and exits non-zero on any failure. The container and the stub are always removed.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${LABGATE_PODMAN_STATE:-/var/cache/labgate-podman}
IMAGE=${LABGATE_IMAGE:-localhost/labgate:test}
SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm
SLIM_IMAGE=docker.io/library/debian:bookworm-slim
NAME=labgate-test-$$

started=$SECONDS
phase() { echo "== $* ($((SECONDS - started)) s)"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "test-container needs root: it runs rootful podman (see ../shared/CONTAINERS.md)" >&2
    exit 1
fi

phase "packages"
scripts/install-deps.sh podman buildah mmdebstrap runc python3

mkdir -p "$STATE"/{storage,runroot,libpod,tmp}
# One run at a time per machine: they share the podman state.
exec 9>"$STATE/lock"
flock 9

# runc, not crun (crun fails here on hybrid cgroups); ulimits this machine allows; no systemd or journald.
cat >"$STATE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export TMPDIR="$STATE/tmp" # podman import and mmdebstrap write large temporary files here, not to /var/tmp
podman() {
    CONTAINERS_CONF="$STATE/containers.conf" command podman \
        --root "$STATE/storage" --runroot "$STATE/runroot" --tmpdir "$STATE/libpod" "$@"
}

work=$(mktemp -d)
stub_pid=""
cleanup() {
    set +e
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1
    [ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null && wait "$stub_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------------
# Base images, made locally when missing.

if podman image exists "$SLIM_IMAGE"; then
    echo "reusing $SLIM_IMAGE"
else
    phase "making $SLIM_IMAGE with mmdebstrap"
    mmdebstrap --quiet --variant=minbase --mode=root bookworm - \
        | podman import --change 'CMD ["bash"]' - "$SLIM_IMAGE"
fi

if podman image exists "$SWIFT_IMAGE"; then
    echo "reusing $SWIFT_IMAGE"
else
    phase "making $SWIFT_IMAGE with mmdebstrap and this machine's Swift toolchain"
    swift_bin=$(readlink -f "$(command -v swift)")
    toolchain=$(dirname "$(dirname "$(dirname "$swift_bin")")") # .../usr/bin/swift-driver -> the toolchain root
    case "$toolchain" in
        / | /usr)
            echo "the Swift toolchain is installed at $toolchain; copy it into an image by hand" >&2
            exit 1
            ;;
    esac
    mmdebstrap --quiet --variant=minbase --mode=root \
        --include=binutils,gcc,libc6-dev,libstdc++-12-dev,libcurl4-openssl-dev,libxml2-dev,libedit-dev,libsqlite3-dev,libncurses-dev,libpython3-dev,uuid-dev,zlib1g-dev,libicu72,pkg-config,tzdata,git,ca-certificates \
        --customize-hook="mkdir -p \"\$1$(dirname "$toolchain")\" && cp -a '$toolchain' \"\$1$toolchain\" && ln -sf '$toolchain/usr/bin/swift' \"\$1/usr/local/bin/swift\"" \
        bookworm - \
        | podman import --change 'CMD ["bash"]' \
            --change "ENV PATH=$toolchain/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            - "$SWIFT_IMAGE"
fi

# ---------------------------------------------------------------------------------------------------------------
# The image. Swift packages come from the machine's mirror: the gitconfig holds only its URL redirects.

gitconfig="$STATE/gitconfig"
: >"$gitconfig"
git config --file "$gitconfig" safe.directory '*'
mounts=(-v "$gitconfig:/etc/gitconfig:ro")
declare -A mirrors=()
while read -r key value; do
    git config --file "$gitconfig" --add "$key" "$value"
    folder=${key#url.}
    folder=${folder%.insteadof}
    folder=${folder%/}
    if [[ $folder == /* && -d $folder && -z ${mirrors[$folder]:-} ]]; then
        mirrors[$folder]=1
        mounts+=(-v "$folder:$folder:ro")
    fi
done < <(git config --system --get-regexp '^url\.' || true)

phase "building $IMAGE"
# From a snapshot of the checkout, so that files edited during the build cannot mix into it (.dockerignore still
# decides what the build sees).
mkdir "$work/context"
tar -C . --exclude='./.build*' --exclude=./.venv --exclude=./.git --exclude=./bench/out -cf - . \
    | tar -C "$work/context" -xf -
old_image=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --format docker --pull=never "${mounts[@]}" -t "$IMAGE" "$work/context"
# Tag the builder stage too (all from cache), so that its layers are not dangling and survive the prune below.
podman build --format docker --pull=never "${mounts[@]}" --target builder -t "$IMAGE-builder" "$work/context" \
    >/dev/null
new_image=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_image" ] && [ "$old_image" != "$new_image" ]; then
    podman image prune -f >/dev/null || true # the previous build's layers
fi
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE"
phase "built"

# ---------------------------------------------------------------------------------------------------------------
# Run it against the stand-in upstream.

failures=0
pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1${2:+: $2}"
    failures=$((failures + 1))
}

key="lbk_test_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$key" >"$work/labric_api_key" # $work is 0700; the file is 0444, as a Docker secret is
chmod 0444 "$work/labric_api_key"

gateway=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null || true)
gateway=${gateway:-10.88.0.1}

cat >"$work/upstream.py" <<'EOF'
# The Labric stand-in: 200 and a marker body when Authorization is the expected bearer key, else 401.
import json, socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

host, key_file, port_file, log_file = sys.argv[1:5]
expected = "Bearer " + open(key_file).read().strip()

class Handler(BaseHTTPRequestHandler):
    def answer(self):
        matched = self.headers.get("Authorization") == expected
        with open(log_file, "a") as log:  # no credential on disk: only whether it matched
            log.write(json.dumps({"method": self.command, "path": self.path, "bearer_matches": matched}) + "\n")
        body = json.dumps({"stub": "labric", "path": self.path} if matched else {"error": "bad key"}).encode()
        self.send_response(200 if matched else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    def server_bind(self):
        # IP_FREEBIND: the bridge address appears only once the first container is attached.
        self.socket.setsockopt(socket.IPPROTO_IP, 15, 1)
        super().server_bind()

server = Server((host, 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
server.serve_forever()
EOF

python3 "$work/upstream.py" "$gateway" "$work/labric_api_key" "$work/upstream.port" "$work/upstream.log" &
stub_pid=$!
for _ in $(seq 100); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
if [ ! -s "$work/upstream.port" ]; then
    echo "FAIL the stand-in upstream did not start on $gateway" >&2
    exit 1
fi
upstream="http://$gateway:$(cat "$work/upstream.port")"

phase "running $IMAGE (upstream $upstream)"
# The key as Compose mounts a file secret: a read-only bind mount. (A `podman secret` cannot be mounted into a
# read-only root filesystem by podman 4.3.)
if ! podman run -d --name "$NAME" -p 127.0.0.1::8080 --read-only \
    -v "$work/labric_api_key:/run/secrets/labric_api_key:ro" \
    -e LABRIC_API_KEY_FILE=/run/secrets/labric_api_key \
    -e LABRIC_API_BASE_URL="$upstream" \
    "$IMAGE" >/dev/null 2>"$work/podman.err"; then
    # (podman also complains there that no systemd schedules health checks: expected here, hence the file)
    fail "the container starts" "$(grep -v systemd "$work/podman.err")"
    exit 1
fi
port=$(podman port "$NAME" 8080/tcp | head -n1)
port=${port##*:}
base="http://127.0.0.1:$port"
echo "published on $base"

status=000
for _ in $(seq 150); do
    status=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true)
    [ "$status" = 200 ] && break
    [ "$(podman container inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 0.2
done
if [ "$status" = 200 ]; then pass "GET /healthz answers 200"; else fail "GET /healthz answers 200" "last status $status"; fi

if out=$(podman healthcheck run "$NAME" 2>&1); then
    pass "podman healthcheck run: healthy${out:+ ($out)}"
else
    fail "podman healthcheck run: healthy" "$out"
fi

status=$(curl -s -o "$work/body" -w '%{http_code}' -H 'Authorization: Bearer client-supplied' \
    "$base/labric/api/v1/files?limit=1" || true)
last=$(tail -n1 "$work/upstream.log" 2>/dev/null || true)
if [ "$status" = 200 ] && grep -q '"stub": "labric"' "$work/body" \
    && [[ $last == *'"path": "/api/v1/files?limit=1"'*'"bearer_matches": true'* ]]; then
    pass "proxied GET /labric/api/v1/files reached the upstream with the key from /run/secrets/labric_api_key"
else
    fail "proxied request with the secret file's key" "status $status, body $(head -c 300 "$work/body" 2>/dev/null), upstream saw: ${last:-nothing}"
fi

uid=$(podman exec "$NAME" id -u 2>&1 || true)
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
if [[ $uid =~ ^[0-9]+$ ]] && [ "$uid" -ne 0 ] && [ "$user" = "65534:65534" ]; then
    pass "runs as a non-root user (uid $uid, image USER $user)"
else
    fail "runs as a non-root user" "id -u: $uid, image USER: $user"
fi

env_list=$(podman image inspect --format '{{join .Config.Env "\n"}}' "$IMAGE")
podman history --no-trunc --format '{{.CreatedBy}}' "$IMAGE" >"$work/history"
if grep -qE '^(GENIE_API_TOKEN|LABRIC_API_KEY)=' <<<"$env_list" || grep -qF "$key" "$work/history"; then
    fail "no credential in the image's configuration"
else
    pass "no credential in the image's configuration or history"
fi

phase "stopping"
stop_started=$SECONDS
podman stop -t 10 "$NAME" >/dev/null 2>"$work/podman.err" || true
stop_seconds=$((SECONDS - stop_started))
code=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
if [ "$code" = 0 ]; then
    pass "podman stop -t 10 (SIGTERM): exit code 0 after ${stop_seconds} s"
else
    fail "podman stop -t 10 (SIGTERM): exit code 0" "exit code $code after ${stop_seconds} s"
fi

if [ "$failures" -ne 0 ]; then
    echo "--- container log (last 40 lines)"
    podman logs "$NAME" 2>&1 | tail -n 40
fi
phase "done"
if [ "$failures" -ne 0 ]; then
    echo "test-container: $failures check(s) failed"
    exit 1
fi
echo "test-container: all checks passed"
