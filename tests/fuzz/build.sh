#!/bin/sh
# Build the libFuzzer targets (Debian clang, ASan + UBSan) into $OUT
# (default build/fuzz): fuzz_codec, fuzz_onnx, fuzz_net. Run from the
# repository root: sh tests/fuzz/build.sh [target ...]
# tests/fuzz/README.md says how to run them.
set -eu
OUT=${OUT:-build/fuzz}
CC=${FUZZ_CC:-clang}
CFLAGS="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-fno-omit-frame-pointer -D_GNU_SOURCE -Iinclude -Isrc -Itests -I$OUT/gen"
targets=${*:-codec onnx net}
mkdir -p "$OUT/gen"
if [ ! -f "$OUT/gen/onnx.pb-c.c" ]; then
	cp /usr/include/onnx/onnx.proto "$OUT/gen/onnx.proto"
	(cd "$OUT/gen" && protoc-c --c_out=. onnx.proto)
fi
# The engine without oneDNN: the fuzzed sessions use the "ref" backend.
ENGINE="src/onnx/*.c src/engine/*.c src/engine/backends/ref/*.c $OUT/gen/onnx.pb-c.c"
for t in $targets; do
	case $t in
	codec) src="src/codec/*.c src/common/*.c"; libs="-lhtscodecs -lzstd -lz -lm -lpthread" ;;
	onnx) src="src/common/*.c $ENGINE"; libs="-lprotobuf-c -lcrypto -lm -lpthread" ;;
	net) src="src/net/net_wire.c src/net/net_image.c src/codec/*.c src/common/*.c src/data/*.c $ENGINE"
	     libs="-lprotobuf-c -lcrypto -lhtscodecs -lzstd -lpng -ljpeg -lz -lm -lpthread" ;;
	*) echo "unknown target $t (codec, onnx, net)" >&2; exit 2 ;;
	esac
	echo "building $OUT/fuzz_$t" >&2
	# shellcheck disable=SC2086
	$CC $CFLAGS tests/fuzz/fuzz_$t.c $src $libs -o "$OUT/fuzz_$t"
done
