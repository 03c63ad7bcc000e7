/* Replays the protocol's saved fuzz corpus (tests/fuzz/corpus/net) through
 * the fuzzer's own body (tests/fuzz/fuzz_net_body.h): frames, messages,
 * containers, images, dictionaries. Files named ok-* must parse. */
#include "testing.h"
#include "fuzz/fuzz_net_body.h"
#include "fuzz/fuzz_replay.h"

int main(void)
{
	int files, n_ok;
	fuzz_replay_dir("tests/fuzz/corpus/net", fuzz_net_one, &files, &n_ok);
	printf("replayed %d protocol corpus files (%d valid)\n", files, n_ok);
	CHECK(files >= 50 && n_ok >= 20);
	TEST_MAIN_END("test_fuzz_replay_net");
}
