#!/bin/sh
# Install the Debian packages jalad needs to build, test and demo, if any are
# missing. Idempotent; when everything is present it only asks dpkg (well
# under a second). Usage: scripts/deps.sh [extra-package ...]
set -eu

PKGS="gcc make pkg-config
protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
libdnnl-dev libhtscodecs-dev libzstd-dev zlib1g-dev libpng-dev libjpeg-dev
libssl-dev openssl libcjson-dev dataset-fashion-mnist
gnuplot-nox iproute2 iptables libnetfilter-queue-dev haproxy curl
python3-flatbuffers python3-onnx python3-numpy python3-pil $*"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: not root and no sudo; please install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists: refresh them once if the
# install cannot find a package.
if ! $SUDO apt-get install -y -q $missing >/dev/null 2>&1; then
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q $missing >/dev/null
fi
echo "deps: done" >&2
