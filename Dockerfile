# labgate as a container: a static-stdlib release build on the Swift image, run on bookworm-slim as a non-root user.
#
#   docker build -t labgate .
#   docker run -d -p 127.0.0.1:8080:8080 -v ./labric_api_key:/run/secrets/labric_api_key:ro \
#       -e LABRIC_API_KEY_FILE=/run/secrets/labric_api_key labgate
#
# Credentials never go into the image: pass them at run time, preferably as files (*_FILE, e.g. Docker secrets in
# /run/secrets). `make test-container` builds this file with podman and checks the image (scripts/test-container.sh).

FROM swift:6.3-bookworm AS builder

# Debian package versions are not pinned (DL3008): bookworm's archive keeps only the current version of each, so a
# pin breaks the build at the next security update. The release's own stability is the pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY Package.* ./
# SwiftPM checks that every target's folder exists, test targets included, so Tests comes along (it is not built).
COPY Sources ./Sources
COPY Tests ./Tests

# .build (resolved packages and compiled modules) is a build cache, not a layer: a rebuild after a source change
# recompiles only labgate's own modules, not swift-nio and BoringSSL. Needs BuildKit (Docker 23+) or buildah.
# The binary is stripped (148 MB -> 79 MB): crash backtraces then show addresses, not names.
RUN --mount=type=cache,target=/src/.build,sharing=locked \
    swift build -c release --static-swift-stdlib --product labgate \
    && install -D -s -m 0755 "$(swift build -c release --show-bin-path)/labgate" /out/labgate

FROM debian:bookworm-slim

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd12 ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

COPY --from=builder /out/labgate /usr/local/bin/labgate
COPY config/labgate.yaml /etc/labgate/labgate.yaml

# The listener must be 0.0.0.0 inside a container: its loopback cannot be reached through a published port. labgate
# refuses a non-loopback address without client keys unless told otherwise, and the image opts in so that it starts
# with no keys file: whoever reaches the port then uses the lab's credentials. Publish it on loopback or a private
# network only (docker run -p 127.0.0.1:8080:8080), or require client keys: mount a keys file made with
# `labgate keys add` and set LABGATE_KEYS_FILE (with a keys file, every forwarded request needs a key).
ENV LABGATE_CONFIG=/etc/labgate/labgate.yaml \
    LABGATE_HOST=0.0.0.0 \
    LABGATE_PORT=8080 \
    LABGATE_ALLOW_UNAUTHENTICATED=true

# nobody:nogroup, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65534:65534
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/labgate", "health"]

ENTRYPOINT ["/usr/local/bin/labgate"]
CMD ["serve"]
