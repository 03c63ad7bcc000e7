/*
 * jalad.h - umbrella header of libjalad.
 *
 * libjalad runs one deep neural network across two machines: the first
 * layers on an edge device, the rest on a cloud server, with the feature
 * map at the cut quantized and entropy-coded. Modules:
 *   status.h  status codes, error messages, logging
 *   engine.h  ONNX models, sessions, running node ranges (the split)
 *   codec.h   quantization + entropy coding of the tensors at the cut
 *   data.h    datasets and images
 */
#ifndef JALAD_H
#define JALAD_H

#define JALAD_VERSION_MAJOR 0
#define JALAD_VERSION_MINOR 1
#define JALAD_VERSION_PATCH 0
#define JALAD_VERSION_STRING "0.1.0"

#include "jalad/status.h"
#include "jalad/engine.h"

#endif /* JALAD_H */
