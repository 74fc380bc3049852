#!/usr/bin/env bash
# Installs what `ballast/sandbox` needs from Debian's packages: bubblewrap (`bwrap`), which
# gives each command its own PID namespace (the whole process tree dies with it) and, for
# `network: "deny"`, its own empty network namespace. Idempotent and quiet when it is there.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-sandbox-deps: bubblewrap is missing and this user cannot install packages; run as root: apt-get install -y bubblewrap" >&2
    exit 1
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-sandbox-deps: no apt-get here; install bubblewrap with this system's package manager" >&2
  exit 1
fi

echo "install-sandbox-deps: installing bubblewrap"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq bubblewrap >/dev/null
command -v bwrap >/dev/null 2>&1
