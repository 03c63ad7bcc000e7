/* jalad eval MODEL --data SPEC [--limit N] [--threads N] [--json]: top-1
 * accuracy. Samples are spread over N threads, each with its own
 * single-threaded session (small models gain more from that than from
 * splitting each convolution). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

struct eval_job {
	const struct jalad_model *m;
	const struct jalad_dataset *ds;
	const struct jalad_preprocess *pp;
	const char *backend;
	size_t n, ith, nth;
	int *top5;              /* (n, 5) or NULL */
	size_t correct, counted;
	enum jalad_status st;
	char err[512];
};

static void *eval_worker(void *p)
{
	struct eval_job *j = p;
	struct jalad_session *s = NULL;
	struct jalad_session_opts so = { .threads = 1, .backend = j->backend };
	size_t len = jalad_preprocess_len(j->pp);
	float *x = malloc(len * sizeof *x);
	j->st = x ? jalad_session_create(j->m, &so, &s) : JALAD_ERR_NOMEM;
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, j->pp->channels, j->pp->height, j->pp->width }, x };
	for (size_t i = j->ith; j->st == JALAD_OK && i < j->n; i += j->nth) {
		j->st = jalad_dataset_get(j->ds, i, j->pp, x, len);
		if (j->st == JALAD_OK)
			j->st = jalad_session_run(s, &in, 1);
		if (j->st != JALAD_OK)
			break;
		struct jalad_tensor out;
		jalad_session_output(s, 0, &out);
		int label = jalad_dataset_label(j->ds, i);
		if (j->top5)
			tool_topk(out.data, jalad_tensor_numel(&out), j->top5 + i * 5, 5);
		if (label >= 0) {
			j->counted++;
			j->correct += tool_argmax(out.data, jalad_tensor_numel(&out)) == label;
		}
	}
	if (j->st != JALAD_OK)
		snprintf(j->err, sizeof j->err, "%s", jalad_last_error());
	jalad_session_free(s);
	free(x);
	return NULL;
}

int cmd_eval(int argc, char **argv)
{
	const char *path = NULL, *data = NULL, *backend = NULL;
	const char *scale = NULL, *mean = NULL, *stdv = NULL, *top5_path = NULL;
	long limit = 0, threads = 0, label_offset = -1;
	int json = 0, rc = EXIT_FAIL;
	const struct tool_sopt sopts[] = {
		{ "--data", &data, "a dataset" },
		{ "--backend", &backend, "a name" },
		{ "--scale", &scale, "a value" },
		{ "--mean", &mean, "a value" },
		{ "--std", &stdv, "a value" },
		{ "--top5", &top5_path, "a file" },
	};
	const struct tool_iopt iopts[] = {
		{ "--limit", 1, 100000000, &limit, "a number >= 1" },
		{ "--threads", 1, 256, &threads, "a number 1..256" },
		{ "--label-offset", 0, 1000000, &label_offset, "a number >= 0" },
	};
	for (int i = 1; i < argc; i++) {
		int taken = tool_opts("eval", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: jalad eval MODEL --data fmnist[:DIR]|images:DIR|imagenet:DIR [--limit N] [--threads N]\n"
			       "                  [--backend ref|dnnl] [--scale S --mean M --std D] [--label-offset N]\n"
			       "                  [--top5 FILE] [--json]\n"
			       "Top-1 accuracy of MODEL over the dataset's test set, printed as 'accuracy: 0.xxxx'.\n"
			       "  --label-offset N  added to the dataset's labels (imagenet:DIR default: the model's\n"
			       "                    jalad.labels.offset, else 1 for a 1001-way output, else 0)\n"
			       "  --top5 FILE       per sample 'NAME<TAB>LABEL<TAB>c1,..,c5' (top-5 classes, ties to the\n"
			       "                    lower class), in dataset order\n");
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (argv[i][0] == '-') {
			return tool_usage("eval", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("eval", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("eval", "no model given");
	if (!data)
		return tool_usage("eval", "--data is required");
	if (top5_path && tool_check_output("eval", "--top5", top5_path))
		return EXIT_FAIL;
	if (threads == 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;

	struct jalad_model *m = NULL;
	struct jalad_dataset *ds = NULL;
	struct eval_job *jobs = NULL;
	int *top5 = NULL;
	pthread_t *tids = NULL;
	struct jalad_preprocess pp;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("eval", st);
	if ((rc = tool_preprocess("eval", m, scale, mean, stdv, &pp)) != 0)
		goto done;
	rc = EXIT_FAIL;
	if ((rc = tool_open_dataset("eval", data, m, label_offset, &ds)) != 0)
		goto done;
	rc = EXIT_FAIL;
	size_t n = jalad_dataset_count(ds);
	if (limit > 0 && (size_t)limit < n)
		n = (size_t)limit;
	jobs = calloc((size_t)threads, sizeof *jobs);
	tids = calloc((size_t)threads, sizeof *tids);
	if (!jobs || !tids)
		goto done;
	if (top5_path && !(top5 = calloc(n * 5, sizeof *top5)))
		goto done;
	uint64_t t0 = jalad_now_ns_tool();
	for (long t = 0; t < threads; t++) {
		jobs[t] = (struct eval_job){ .m = m, .ds = ds, .pp = &pp, .backend = backend, .n = n,
					     .ith = (size_t)t, .nth = (size_t)threads, .top5 = top5 };
		pthread_create(&tids[t], NULL, eval_worker, &jobs[t]);
	}
	size_t correct = 0, counted = 0;
	int failed = -1;
	for (long t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		correct += jobs[t].correct;
		counted += jobs[t].counted;
		if (jobs[t].st != JALAD_OK && failed < 0)
			failed = (int)t;
	}
	double secs = (double)(jalad_now_ns_tool() - t0) / 1e9;
	if (failed >= 0) {
		fprintf(stderr, "jalad eval: %s: %s\n", jalad_status_str(jobs[failed].st), jobs[failed].err);
		goto done;
	}
	if (counted == 0) {
		fprintf(stderr, "jalad eval: the dataset has no labelled samples\n");
		goto done;
	}
	if (top5_path) {
		FILE *f = fopen(top5_path, "w");
		if (!f) {
			fprintf(stderr, "jalad eval: --top5 %s: cannot open: %s\n", top5_path, strerror(errno));
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			const char *nm = jalad_dataset_sample_name(ds, i);
			fprintf(f, "%s\t%d\t%d,%d,%d,%d,%d\n", nm ? nm : "-", jalad_dataset_label(ds, i), top5[i * 5],
				top5[i * 5 + 1], top5[i * 5 + 2], top5[i * 5 + 3], top5[i * 5 + 4]);
		}
		if (fclose(f) != 0) {
			fprintf(stderr, "jalad eval: --top5 %s: write error\n", top5_path);
			goto done;
		}
	}
	double acc = (double)correct / (double)counted;
	if (json)
		printf("{\"model\": \"%s\", \"data\": \"%s\", \"samples\": %zu, \"correct\": %zu, \"accuracy\": %.6f, "
		       "\"seconds\": %.3f, \"ms_per_sample\": %.4f}\n",
		       path, data, counted, correct, acc, secs, secs * 1e3 * (double)threads / (double)n);
	else
		printf("samples: %zu\ncorrect: %zu\naccuracy: %.4f\ntime: %.2f s (%.3f ms per sample per thread, %ld threads)\n",
		       counted, correct, acc, secs, secs * 1e3 * (double)threads / (double)n, threads);
	rc = EXIT_OK;
done:
	free(top5);
	free(jobs);
	free(tids);
	jalad_dataset_free(ds);
	jalad_model_free(m);
	return rc;
}
