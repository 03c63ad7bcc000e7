// libFuzzer target for the ONNX loader: bytes -> jalad_model_load_buffer(),
// then every model accessor and, for small models, a "ref" session run
// (tests/fuzz/fuzz_onnx_body.h). Build and run from the repository root
// (tests/fuzz/build.sh builds all targets into build/fuzz/):
//
//   sh tests/fuzz/build.sh
//   mkdir -p /tmp/onnx-corpus
//   nice -n 19 build/fuzz/fuzz_onnx -max_len=16384 -rss_limit_mb=2048 -runs=10000000 \
//       /tmp/onnx-corpus tests/fuzz/corpus/onnx
//
// New finds go to the first directory; merge them into the saved corpus
// with -merge=1 (tests/fuzz/README.md). tests/unit/test_fuzz_replay_onnx.c
// replays tests/fuzz/corpus/onnx on every `make test`; files named ok-*
// must load.
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_onnx_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_onnx_one(data, size);
	return 0;
}
