/* jalad info MODEL [--json]: per node op, output shape, bytes, FLOPs, params. */
#include <string.h>

#include "tools.h"

int cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: jalad info MODEL [--json]\n"
			       "Lists the nodes of MODEL after folding, in the order cuts refer to:\n"
			       "op, output shape, output bytes, FLOPs, parameters; then totals.\n");
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (argv[i][0] == '-') {
			return tool_usage("info", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("info", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("info", "no model given");
	struct jalad_model *m;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("info", st);
	int n = jalad_model_node_count(m);
	int64_t tf = 0, tp = 0;
	uint8_t sha[32];
	jalad_model_sha256(m, sha);
	if (json)
		printf("{\"model\": ");
	if (json) {
		tool_json_str(stdout, path);
		printf(", \"sha256\": \"");
		for (int i = 0; i < 32; i++)
			printf("%02x", sha[i]);
		printf("\", \"nodes\": [");
	} else {
		printf("%-5s %-28s %-20s %-18s %12s %12s %10s %7s\n", "#", "name", "op", "output", "bytes", "FLOPs",
		       "params", "cross");
	}
	for (int i = 0; i < n; i++) {
		struct jalad_node_info ni;
		struct jalad_tensor_desc d;
		char shape[96];
		int cross;
		jalad_model_node_info(m, i, &ni);
		jalad_model_tensor_desc(m, ni.output, &d);
		jalad_model_crossing(m, i + 1, NULL, 0, &cross);
		tool_shape_str(d.ndim, d.dims, shape, sizeof shape);
		tf += ni.flops;
		tp += ni.params;
		if (json) {
			printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", i);
			tool_json_str(stdout, ni.name);
			printf(", \"op\": ");
			tool_json_str(stdout, ni.op_type);
			printf(", \"shape\": [");
			for (int k = 0; k < d.ndim; k++)
				printf("%s%lld", k ? ", " : "", (long long)d.dims[k]);
			printf("], \"bytes\": %lld, \"flops\": %lld, \"params\": %lld, \"crossing_after\": %d}",
			       (long long)ni.out_bytes, (long long)ni.flops, (long long)ni.params, cross);
		} else {
			char name[64], op[64];
			tool_text_str(ni.name, name, sizeof name);
			tool_text_str(ni.op_type, op, sizeof op);
			printf("%-5d %-28.28s %-20.20s %-18s %12lld %12lld %10lld %7d\n", i, name, op, shape,
			       (long long)ni.out_bytes, (long long)ni.flops, (long long)ni.params, cross);
		}
	}
	int nm = jalad_model_metadata_count(m);
	if (json) {
		printf("], \"total_flops\": %lld, \"total_params\": %lld, \"metadata\": {", (long long)tf, (long long)tp);
		for (int i = 0; i < nm; i++) {
			const char *k = jalad_model_metadata_key(m, i);
			printf("%s", i ? ", " : "");
			tool_json_str(stdout, k);
			printf(": ");
			tool_json_str(stdout, jalad_model_metadata(m, k));
		}
		printf("}}\n");
	} else {
		for (int i = 0; i < nm; i++) {
			const char *k = jalad_model_metadata_key(m, i);
			char kb[256], vb[1024];
			printf("metadata: %s = %s\n", tool_text_str(k, kb, sizeof kb),
			       tool_text_str(jalad_model_metadata(m, k), vb, sizeof vb));
		}
		printf("total: %d nodes, %.3f GFLOPs, %lld parameters (%.2f MB)\n", n, (double)tf / 1e9,
		       (long long)tp, (double)tp * 4 / 1e6);
	}
	jalad_model_free(m);
	return EXIT_OK;
}
