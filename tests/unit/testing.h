/* A minimal test harness: CHECK records a failure and goes on; TEST_MAIN_END
 * prints "N passed, N failed" and returns non-zero if anything failed. */
#ifndef JALAD_TESTING_H
#define JALAD_TESTING_H

#include <stdio.h>

static int tests_passed, tests_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			tests_passed++;                                        \
		} else {                                                       \
			tests_failed++;                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_MSG(cond, ...)                                                   \
	do {                                                                   \
		if (cond) {                                                    \
			tests_passed++;                                        \
		} else {                                                       \
			tests_failed++;                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

#define TEST_MAIN_END(name)                                                    \
	do {                                                                   \
		printf("%s: %d passed, %d failed\n", (name), tests_passed,     \
		       tests_failed);                                          \
		return tests_failed ? 1 : 0;                                   \
	} while (0)

#endif
