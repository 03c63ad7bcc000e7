/* Replays the saved fuzz corpus (tests/fuzz/corpus/codec, relative to the
 * repository root, where `make test` runs) through the fuzzer's own entry
 * function, so every past find stays fixed. Files named ok-* are valid
 * inputs and must decode successfully; the others only must not crash. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_codec_body.h"
#include "testing.h"

#define CORPUS_DIR "tests/fuzz/corpus/codec"

static int replay_file(const char *name, int *n_ok)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	int st = fuzz_codec_one(buf ? buf : (const uint8_t *)"", len);
	free(buf);
	if (strncmp(name, "ok-", 3) == 0) {
		(*n_ok)++;
		CHECK_MSG(st == JALAD_OK, "%s: expected to decode, got %s: %s", name,
			  jalad_status_str((enum jalad_status)st), jalad_last_error());
	}
	return 0;
}

int main(void)
{
	DIR *d = opendir(CORPUS_DIR);
	int files = 0, n_ok = 0;
	CHECK_MSG(d != NULL, "cannot open %s (run from the repository root)", CORPUS_DIR);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			CHECK_MSG(replay_file(e->d_name, &n_ok) == 0, "cannot read %s", e->d_name);
			files++;
		}
		closedir(d);
	}
	printf("replayed %d corpus files (%d valid)\n", files, n_ok);
	CHECK(files >= 20 && n_ok >= 10);
	TEST_MAIN_END("test_fuzz_replay");
}
