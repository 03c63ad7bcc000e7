#!/bin/sh
# Operator conformance: every ONNX backend test case Debian ships under
# node/ and pytorch-converted/ (package libonnx-testdata), on the reference
# backend. Prints jalad conform's own "N passed, N failed, N skipped".
set -u
JALAD=${JALAD:-build/jalad}
DATA=/usr/share/libonnx-testdata/data
"$JALAD" conform --quiet "$DATA/node" "$DATA/pytorch-converted"
