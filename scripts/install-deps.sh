#!/usr/bin/env bash
# Installs the Debian packages labgate needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

needed=(libmicrohttpd-dev pkg-config python3-venv curl openssl "$@")
missing=()
for package in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "labgate needs these Debian packages: ${missing[*]}" >&2
    echo "run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
