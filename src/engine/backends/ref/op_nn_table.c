/* The nn operator family (see ref_ops_nn.h). */
#include "ref_ops_nn.h"

const struct jalad_op_def *const jalad_ops_nn[] = {
	&jalad_op_conv,
	&jalad_op_maxpool,
	&jalad_op_averagepool,
	&jalad_op_globalaveragepool,
	&jalad_op_globalmaxpool,
	&jalad_op_batchnormalization,
	&jalad_op_lrn,
	&jalad_op_gemm,
	&jalad_op_matmul,
	&jalad_op_softmax,
	&jalad_op_logsoftmax,
	NULL,
};
