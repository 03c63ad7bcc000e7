/* Replays the ONNX loader's saved fuzz corpus (tests/fuzz/corpus/onnx)
 * through the fuzzer's own body (tests/fuzz/fuzz_onnx_body.h): load, every
 * accessor, and a small session run. Files named ok-* must load. */
#include "testing.h"
#include "fuzz/fuzz_onnx_body.h"
#include "fuzz/fuzz_replay.h"

int main(void)
{
	int files, n_ok;
	jalad_log_set(NULL, NULL, JALAD_LOG_ERROR);
	fuzz_replay_dir("tests/fuzz/corpus/onnx", fuzz_onnx_one, &files, &n_ok);
	printf("replayed %d ONNX corpus files (%d valid models)\n", files, n_ok);
	CHECK(files >= 100 && n_ok >= 20);
	TEST_MAIN_END("test_fuzz_replay_onnx");
}
