/* The operator table: every family's ops, looked up by ONNX op type. */
#include <string.h>

#include "engine_impl.h"

static const struct jalad_op_def *const *const families[] = {
	jalad_ops_nn,
	jalad_ops_tensor,
};

const struct jalad_op_def *jalad_op_lookup(const char *op_type)
{
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
		for (const struct jalad_op_def *const *d = families[f]; *d; d++)
			if (strcmp((*d)->name, op_type) == 0)
				return *d;
	return NULL;
}
