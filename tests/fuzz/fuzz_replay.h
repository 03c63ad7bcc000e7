/*
 * Replay of a saved fuzz corpus for the unit tests (test_fuzz_replay_*.c):
 * every file of a folder through a target's shared body, which must not
 * crash; files named ok-* are valid inputs and must return JALAD_OK.
 * Needs tests/unit/testing.h (CHECK_MSG) included first.
 */
#ifndef JALAD_FUZZ_REPLAY_H
#define JALAD_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jalad/status.h"

typedef int (*fuzz_replay_fn)(const uint8_t *data, size_t size);

/* The whole file, malloc'd (at least 1 byte); NULL if unreadable. */
static uint8_t *fuzz_replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;
	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + *len, 1, cap - *len, f);
		if (got == 0)
			break;
		*len += got;
	}
	fclose(f);
	return buf;
}

/* Replay every file in dir (relative to the repository root, where `make
 * test` runs); *files and *n_ok get the counts. */
static void fuzz_replay_dir(const char *dir, fuzz_replay_fn one, int *files, int *n_ok)
{
	DIR *d = opendir(dir);
	*files = *n_ok = 0;
	CHECK_MSG(d != NULL, "cannot open %s (run from the repository root)", dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		uint8_t *buf = fuzz_replay_read(path, &len);
		CHECK_MSG(buf != NULL, "cannot read %s", path);
		if (!buf)
			continue;
		int st = one(buf, len);
		free(buf);
		(*files)++;
		if (strncmp(e->d_name, "ok-", 3) == 0) {
			(*n_ok)++;
			CHECK_MSG(st == JALAD_OK, "%s: expected to succeed, got %s: %s", path,
				  jalad_status_str((enum jalad_status)st), jalad_last_error());
		}
	}
	closedir(d);
}

#endif /* JALAD_FUZZ_REPLAY_H */
