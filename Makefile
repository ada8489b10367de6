# labgate: `make run` starts the sandbox on 127.0.0.1:8080, `make test` runs every test.
# Both install what is missing first (Debian packages as root, a Python venv for the end-to-end clients).

SWIFT ?= swift
VENV := .venv
PYTHON := $(VENV)/bin/python
PY_PACKAGES := labric==0.14.17 requests==2.32.3
PORT ?= 8080

.PHONY: run test deps venv build format lint bench test-container clean

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

test: deps venv lint
	$(SWIFT) build --build-tests
	LABGATE_PYTHON=$(abspath $(PYTHON)) LABGATE_SHARED=$(abspath ../shared) $(SWIFT) test --skip-build --no-parallel

bench: deps
	$(SWIFT) build -c release --product labgate
	$(SWIFT) build -c release --product HelloServer
	LABGATE=$(abspath .build/release/labgate) HELLO_SWIFT=$(abspath .build/release/HelloServer) bench/bench.sh

clean:
	rm -rf .build $(VENV) bench/out
