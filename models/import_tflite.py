#!/usr/bin/python3
"""Import a TFLite CNN classifier as a float32 ONNX model.

    /usr/bin/python3 models/import_tflite.py IN.tflite OUT.onnx \
        [--range-clips relu|all|none] [--verbose]

Reads the TFLite flatbuffer directly (python3-flatbuffers; no TensorFlow),
by the field ids of tensorflow/lite/schema/schema.fbs, and writes an ONNX
model (python3-onnx, opset 13; 14 only if the model uses HARD_SWISH, the
first opset with HardSwish) that computes in float32 what the TFLite graph
computes:

- Weights are dequantized, f = scale * (q - zero_point), per tensor or per
  channel along quantized_dimension; int32 biases with their own scale.
  float16 constants (and DEQUANTIZE of a constant) are folded to float32.
  Activations are plain float32: rounding to the quantized grid is not
  emulated.
- Layout: the ONNX input is float32 (1, 3, H, W), NCHW, and every 4-d
  tensor stays NCHW. Filters are transposed (CONV_2D OHWI -> OIHW,
  DEPTHWISE_CONV_2D (1, KH, KW, C*m) -> (C*m, 1, KH, KW) with group = C);
  the axes of CONCATENATION, MEAN, PAD and SOFTMAX are remapped; a RESHAPE,
  SQUEEZE or FULLY_CONNECTED reading a 4-d tensor whose NHWC and NCHW
  element orders differ goes through a Transpose back to NHWC first (not
  needed after global pooling to 1 x 1).
- TF "SAME" padding is made explicit per conv/pool from the input size,
  stride and dilation: total = max((ceil(in/s) - 1)*s + (k-1)*d + 1 - in, 0),
  begin = total // 2, end = the rest; VALID is 0. A PAD of zeros on H and W
  read only by convolutions is folded into their pads.
- Fused activations become nodes of their own: Relu, Clip(0, 6) or
  Clip(-1, 1) (min/max as initializers), Tanh.
- QUANTIZE and DEQUANTIZE are identities in float and disappear.
- Range clips (quantized models): an int8/uint8 tensor holds only
  [scale*(qmin-zp), scale*(qmax-zp)]; the quantized graph saturates there
  even where no activation is fused (a ReLU6 can be implied by a range of
  [0, 6] alone). Where that range is tighter, by more than 1.5 quantization
  steps, than the range the float graph already guarantees (tracked through
  activations, pools, adds, concatenations), a Clip to it is emitted:
    relu (default)  only where the range starts at 0, i.e. implies a ReLU or
                    ReLU-N the TFLite graph does not state (tests/integration/
                    make_tflite.py's quant model is 0.21 off without it);
    all             also on unbounded linear outputs (projection convs,
                    residual adds, logits);
    none            never.
  Measured on mobilenet_v2_1.0_224_quant.tflite (every ReLU6 there is
  fused, so relu = none; all adds 28 Clips): over the 1000 photos of
  imagenet-sample, all changes the probabilities of 584 photos (by up to
  0.015) and the top-1 of none; on 200 of them (every 5th) against ArmNN
  (CpuRef) running the original, the L1 distance of the probability vector
  to ArmNN's is smaller with all for 60 photos, larger for 56 (mean gain
  0.0002 +- 0.0002): no measurable gain, so "all" is not the default.
  Top-1 agreement with ArmNN on those 200: 198 (99.0%) with the same uint8
  pixels, 197 (98.5%) with jalad's float (unrounded) crop; top-1 accuracy
  88.0% ArmNN, 89.0% / 88.5% the import.

Supported operators: ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D,
CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE,
SQUEEZE, SOFTMAX, MEAN, PAD, PADV2, QUANTIZE, DEQUANTIZE, RELU, RELU6,
RELU_N1_TO_1, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU (subgraph 0 only).
Anything else is refused, naming the operator as the schema does
("import_tflite: unsupported op LSTM (builtin code 16) at operator 12");
so is an activation tensor that is not float32, uint8 or int8 (e.g. INT16,
FLOAT16), a sparse or untyped constant, or a file that is not a well-formed
TFLite flatbuffer (every read is bounds-checked). Exit status 1 for these,
2 for usage errors.

metadata_props, for jalad's image preprocessing:
  jalad.preprocess.scale/mean/std  x = (pixel * scale - mean) / std equals
      the dequantized uint8 input s * (pixel - z): scale 1, mean z, std 1/s
      (an int8 input is taken to be pixel - 128: mean z + 128). A float32
      input is assumed to follow MobileNet's [-1, 1] convention (scale 1,
      mean 127.5, std 127.5); jalad.preprocess.note says so.
  jalad.preprocess.crop  central:0.875 (central square crop of 87.5% of the
      shorter side, then bilinear resize to H x W)
  jalad.input.layout     NCHW
  jalad.labels.offset    1 for a 1001-class output (0 = background), else 0
  jalad.source           tflite import of FILE, sha256 HEX
  jalad.import.range_clips  the --range-clips mode and how many Clips it made
"""

import argparse
import hashlib
import math
import os
import struct
import sys

import numpy as np

import flatbuffers
from flatbuffers import number_types as N
from flatbuffers.table import Table

import onnx
from onnx import TensorProto, helper, numpy_helper

PROG = "import_tflite"
OPSET = 13

# ---------------------------------------------------------------- schema

# BuiltinOperator, in schema.fbs order (value = index).
BUILTIN_NAMES = """
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE
DEQUANTIZE EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP
L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC
LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE
RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS
SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN
GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE
UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP
TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU
MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL
SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL
NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD
REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN
FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE
RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V
UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE
MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE
NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY
SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE
BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND
HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE
READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE
RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1
UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC
STABLEHLO_ADD STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM
STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE
STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND
STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG
STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER
STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT STABLEHLO_SUBTRACT
STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD
STABLEHLO_IOTA STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT
STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE
STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
""".split()
OP = {name: code for code, name in enumerate(BUILTIN_NAMES)}

# TensorType: name, numpy dtype (None: no numpy equivalent we accept).
TENSOR_TYPES = [
    ("FLOAT32", np.float32), ("FLOAT16", np.float16), ("INT32", np.int32),
    ("UINT8", np.uint8), ("INT64", np.int64), ("STRING", None),
    ("BOOL", np.bool_), ("INT16", np.int16), ("COMPLEX64", None),
    ("INT8", np.int8), ("FLOAT64", np.float64), ("COMPLEX128", None),
    ("UINT64", np.uint64), ("RESOURCE", None), ("VARIANT", None),
    ("UINT32", np.uint32), ("UINT16", np.uint16), ("INT4", None),
    ("BFLOAT16", None),
]
T_FLOAT32, T_FLOAT16, T_INT32, T_UINT8, T_INT64, T_INT8 = 0, 1, 2, 3, 4, 9
QRANGE = {T_UINT8: (0, 255), T_INT8: (-128, 127)}

# ActivationFunctionType
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)
ACT_NAMES = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]
PAD_SAME, PAD_VALID = 0, 1

# Field ids (vtable slots) of the tables read here, from schema.fbs.
F_MODEL = dict(version=0, operator_codes=1, subgraphs=2, description=3, buffers=4)
F_OPCODE = dict(deprecated_builtin_code=0, custom_code=1, version=2, builtin_code=3)
F_SUBGRAPH = dict(tensors=0, inputs=1, outputs=2, operators=3, name=4)
F_TENSOR = dict(shape=0, type=1, buffer=2, name=3, quantization=4,
                is_variable=5, sparsity=6, shape_signature=7)
F_QUANT = dict(min=0, max=1, scale=2, zero_point=3, details_type=4, details=5,
               quantized_dimension=6)
F_OPERATOR = dict(opcode_index=0, inputs=1, outputs=2, builtin_options_type=3,
                  builtin_options=4, custom_options=5)
F_BUFFER = dict(data=0, offset=1, size=2)
# Options tables, by the op that reads them.
F_CONV = dict(padding=0, stride_w=1, stride_h=2, act=3, dilation_w=4, dilation_h=5)
F_DWCONV = dict(padding=0, stride_w=1, stride_h=2, depth_multiplier=3, act=4,
                dilation_w=5, dilation_h=6)
F_POOL = dict(padding=0, stride_w=1, stride_h=2, filter_w=3, filter_h=4, act=5)
F_FC = dict(act=0, weights_format=1, keep_num_dims=2)
F_SOFTMAX = dict(beta=0)
F_CONCAT = dict(axis=0, act=1)
F_BINARY = dict(act=0)              # AddOptions, SubOptions, MulOptions
F_RESHAPE = dict(new_shape=0)
F_REDUCER = dict(keep_dims=0)
F_SQUEEZE = dict(squeeze_dims=0)
F_LEAKY = dict(alpha=0)
# BuiltinOptions union: the options table type each operator read here expects.
OPTIONS_TYPE = dict(CONV_2D=1, DEPTHWISE_CONV_2D=2, AVERAGE_POOL_2D=5, MAX_POOL_2D=5,
                    FULLY_CONNECTED=8, SOFTMAX=9, CONCATENATION=10, ADD=11, RESHAPE=17,
                    MUL=21, PAD=22, MEAN=27, SUB=28, SQUEEZE=30, LEAKY_RELU=75)


def op_name(code):
    return BUILTIN_NAMES[code] if 0 <= code < len(BUILTIN_NAMES) else f"BUILTIN_{code}"


def type_name(t):
    return TENSOR_TYPES[t][0] if 0 <= t < len(TENSOR_TYPES) else f"type {t}"


# ---------------------------------------------------------------- flatbuffer reading

class TFLiteError(Exception):
    """A model this importer refuses or cannot read; the message says why."""


class FormatError(TFLiteError):
    pass


class FB:
    """One flatbuffers table, every read checked against the end of the buffer.

    flatbuffers.table.Table trusts its input (struct.unpack_from past the end,
    negative offsets counted from the end); a truncated or corrupt file must
    give a clear error instead, so positions are checked before each read."""

    __slots__ = ("buf", "tab", "size", "what")

    def __init__(self, buf, pos, what):
        self.buf = buf
        self.what = what
        _need(buf, pos, 4, what)
        self.tab = Table(buf, pos)
        vt = pos - self.tab.Get(N.SOffsetTFlags, pos)
        _need(buf, vt, 4, what + " vtable")
        vlen = self.tab.Get(N.VOffsetTFlags, vt)
        self.size = self.tab.Get(N.VOffsetTFlags, vt + 2)
        if vlen < 4 or vlen % 2:
            raise FormatError(f"{what}: bad vtable length {vlen}")
        _need(buf, vt, vlen, what + " vtable")
        _need(buf, pos, max(self.size, 4), what)

    def _field(self, slot, width):
        """Absolute position of field `slot`, or None if absent."""
        off = self.tab.Offset(4 + 2 * slot)
        if off == 0:
            return None
        if off + width > self.size:
            raise FormatError(f"{self.what}: field {slot} outside its table")
        return self.tab.Pos + off

    def scalar(self, slot, flags, default):
        p = self._field(slot, flags.bytewidth)
        return default if p is None else self.tab.Get(flags, p)

    def _ref(self, slot):
        """Position an offset field points to, or None."""
        p = self._field(slot, 4)
        if p is None:
            return None
        q = p + self.tab.Get(N.UOffsetTFlags, p)
        _need(self.buf, q, 4, f"{self.what} field {slot}")
        return q

    def table(self, slot, what):
        q = self._ref(slot)
        return None if q is None else FB(self.buf, q, what)

    def vector(self, slot, width):
        """(start, length) of a vector of `width`-byte elements, or None."""
        q = self._ref(slot)
        if q is None:
            return None
        n = self.tab.Get(N.UOffsetTFlags, q)
        _need(self.buf, q + 4, n * width, f"{self.what} field {slot} ({n} elements)")
        return q + 4, n

    def array(self, slot, dtype):
        v = self.vector(slot, np.dtype(dtype).itemsize)
        if v is None:
            return None
        start, n = v
        return np.frombuffer(self.buf, dtype=np.dtype(dtype).newbyteorder("<"),
                             count=n, offset=start).copy()

    def tables(self, slot, what):
        v = self.vector(slot, 4)
        if v is None:
            return []
        start, n = v
        out = []
        for i in range(n):
            p = start + 4 * i
            out.append(FB(self.buf, p + self.tab.Get(N.UOffsetTFlags, p), f"{what} {i}"))
        return out

    def string(self, slot):
        v = self.vector(slot, 1)
        if v is None:
            return ""
        start, n = v
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace")


def _need(buf, pos, n, what):
    if pos < 0 or n < 0 or pos + n > len(buf):
        raise FormatError(f"{what} lies outside the file (truncated or corrupt)")


class Tensor:
    __slots__ = ("index", "name", "shape", "type", "buffer", "scale", "zero_point",
                 "qdim", "sparse", "data")


class Operator:
    __slots__ = ("index", "code", "custom", "version", "inputs", "outputs", "options",
                 "options_type")


class Model:
    __slots__ = ("version", "description", "tensors", "inputs", "outputs", "operators",
                 "n_subgraphs")


def parse_tflite(buf):
    """Parse the parts of a .tflite file an importer needs (subgraph 0)."""
    if len(buf) < 8:
        raise FormatError(f"only {len(buf)} bytes: not a TFLite file")
    if flatbuffers.util.GetBufferIdentifier(buf, 0) != b"TFL3":
        raise FormatError("no TFL3 file identifier: not a TFLite flatbuffer")
    root = struct.unpack_from("<I", buf, 0)[0]
    m = FB(buf, root, "Model")
    model = Model()
    model.version = m.scalar(F_MODEL["version"], N.Uint32Flags, 0)
    if model.version != 3:
        raise FormatError(f"schema version {model.version}, expected 3")
    model.description = m.string(F_MODEL["description"])

    codes = []
    for oc in m.tables(F_MODEL["operator_codes"], "OperatorCode"):
        dep = oc.scalar(F_OPCODE["deprecated_builtin_code"], N.Int8Flags, 0)
        new = oc.scalar(F_OPCODE["builtin_code"], N.Int32Flags, 0)
        # Writers fill one or both; the wider field is authoritative from
        # code 127 on, the byte before: the larger of the two is right.
        codes.append((max(dep, new), oc.string(F_OPCODE["custom_code"]),
                      oc.scalar(F_OPCODE["version"], N.Int32Flags, 1)))

    buffers = []
    for b in m.tables(F_MODEL["buffers"], "Buffer"):
        v = b.vector(F_BUFFER["data"], 1)
        off = b.scalar(F_BUFFER["offset"], N.Uint64Flags, 0)
        size = b.scalar(F_BUFFER["size"], N.Uint64Flags, 0)
        if v is not None and v[1] > 0:
            buffers.append(memoryview(buf)[v[0]:v[0] + v[1]])
        elif off > 1:
            # Large models keep buffers after the flatbuffer, at file offsets.
            _need(buf, off, size, "Buffer data")
            buffers.append(memoryview(buf)[off:off + size])
        else:
            buffers.append(None)

    subgraphs = m.tables(F_MODEL["subgraphs"], "SubGraph")
    if not subgraphs:
        raise FormatError("the model has no subgraph")
    model.n_subgraphs = len(subgraphs)
    sg = subgraphs[0]

    model.tensors = []
    for i, t in enumerate(sg.tables(F_SUBGRAPH["tensors"], "Tensor")):
        x = Tensor()
        x.index = i
        x.name = t.string(F_TENSOR["name"])
        shape = t.array(F_TENSOR["shape"], np.int32)
        x.shape = [] if shape is None else [int(d) for d in shape]
        x.type = t.scalar(F_TENSOR["type"], N.Int8Flags, 0)
        x.buffer = t.scalar(F_TENSOR["buffer"], N.Uint32Flags, 0)
        x.sparse = t._ref(F_TENSOR["sparsity"]) is not None
        x.scale, x.zero_point, x.qdim = None, None, 0
        q = t.table(F_TENSOR["quantization"], f"Tensor {i} quantization")
        if q is not None:
            scale = q.array(F_QUANT["scale"], np.float32)
            zp = q.array(F_QUANT["zero_point"], np.int64)
            if q.scalar(F_QUANT["details_type"], N.Uint8Flags, 0) != 0:
                raise TFLiteError(f"tensor '{x.name}' uses custom quantization details")
            if scale is not None and len(scale) > 0:
                x.scale = scale.astype(np.float64)
                x.zero_point = (np.zeros(len(scale), np.int64) if zp is None or len(zp) == 0
                                else zp)
                if len(x.zero_point) not in (1, len(scale)):
                    raise FormatError(f"tensor '{x.name}': {len(scale)} scales, "
                                      f"{len(x.zero_point)} zero points")
                x.qdim = q.scalar(F_QUANT["quantized_dimension"], N.Int32Flags, 0)
        if x.buffer >= max(len(buffers), 1) and x.buffer != 0:
            raise FormatError(f"tensor '{x.name}' refers to buffer {x.buffer} "
                              f"of {len(buffers)}")
        x.data = buffers[x.buffer] if x.buffer < len(buffers) else None
        model.tensors.append(x)

    nt = len(model.tensors)

    def index_list(fb, slot, what, optional=False):
        a = fb.array(slot, np.int32)
        out = [] if a is None else [int(v) for v in a]
        for v in out:
            if not (0 <= v < nt or (optional and v == -1)):
                raise FormatError(f"{what}: tensor index {v} of {nt}")
        return out

    model.inputs = index_list(sg, F_SUBGRAPH["inputs"], "subgraph inputs")
    model.outputs = index_list(sg, F_SUBGRAPH["outputs"], "subgraph outputs")
    model.operators = []
    for i, o in enumerate(sg.tables(F_SUBGRAPH["operators"], "Operator")):
        op = Operator()
        op.index = i
        k = o.scalar(F_OPERATOR["opcode_index"], N.Uint32Flags, 0)
        if k >= len(codes):
            raise FormatError(f"operator {i}: opcode index {k} of {len(codes)}")
        op.code, op.custom, op.version = codes[k]
        op.inputs = index_list(o, F_OPERATOR["inputs"], f"operator {i} inputs", True)
        op.outputs = index_list(o, F_OPERATOR["outputs"], f"operator {i} outputs")
        op.options_type = o.scalar(F_OPERATOR["builtin_options_type"], N.Uint8Flags, 0)
        op.options = o.table(F_OPERATOR["builtin_options"], f"operator {i} options")
        model.operators.append(op)
    return model


# ---------------------------------------------------------------- conversion

INF = float("inf")
FLT_MAX = float(np.finfo(np.float32).max)
NHWC_TO_NCHW_AXIS = [0, 2, 3, 1]    # NHWC axis a is NCHW axis [a]
RANGE_CLIP_MODES = ("relu", "all", "none")


def same_pads(size, k, stride, dilation):
    """TF "SAME": (begin, end) padding of one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def nchw_shape(s):
    return [s[0], s[3], s[1], s[2]] if len(s) == 4 else list(s)


def layouts_agree(s):
    """Is a 4-d NHWC tensor of shape s laid out in memory as its NCHW twin?"""
    return s[3] == 1 or s[1] * s[2] == 1


def hull(bounds):
    return (min(b[0] for b in bounds), max(b[1] for b in bounds))


def mul_bound(a, b):
    prods = []
    for x in a:
        for y in b:
            p = x * y
            if math.isnan(p):        # 0 * inf: the product stays near 0
                p = 0.0
            prods.append(p)
    return (min(prods), max(prods))


class Converter:
    SUPPORTED = ("ADD SUB MUL AVERAGE_POOL_2D MAX_POOL_2D CONCATENATION CONV_2D "
                 "DEPTHWISE_CONV_2D FULLY_CONNECTED RESHAPE SQUEEZE SOFTMAX MEAN PAD "
                 "PADV2 QUANTIZE DEQUANTIZE RELU RELU6 RELU_N1_TO_1 LOGISTIC TANH "
                 "HARD_SWISH LEAKY_RELU").split()

    def __init__(self, model, range_clips="relu", log=None):
        self.m = model
        self.T = model.tensors
        self.mode = range_clips
        self.log = log or (lambda msg: None)
        self.nodes = []
        self.inits = []
        self.inputs = []
        self.used = set()           # every ONNX tensor name
        self.temps = set()          # node outputs not yet bound to a TFLite tensor
        self.producer = {}          # ONNX name -> node
        self.name_of = {}           # TFLite tensor index -> ONNX name
        self.bound = {}             # ONNX name -> (lo, hi) the float graph guarantees
        self.folded = {}            # TFLite index -> float value of a folded constant
        self.cache = {}             # (TFLite index, use) -> initializer name
        self.pad_fold = {}          # PAD output index -> (input index, (t, l, b, r))
        self.opset = OPSET
        self.range_clips = 0
        self.op = None              # operator being converted, for messages

    # ---------------------------------------------------------- names

    def base(self, idx):
        t = self.T[idx]
        # Converters join fused names with ';'; the first is the op's own.
        name = t.name.split(";")[0].strip()
        return name or f"tensor_{idx}"

    def fresh(self, hint):
        name, k = hint, 1
        while name in self.used:
            name = f"{hint}_{k}"
            k += 1
        self.used.add(name)
        return name

    def node(self, op_type, inputs, hint, **attrs):
        out = self.fresh(hint)
        n = helper.make_node(op_type, inputs, [out], name=out, **attrs)
        self.nodes.append(n)
        self.producer[out] = n
        self.temps.add(out)
        return out

    def init(self, hint, array):
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def shared_scalar(self, value):
        key = ("scalar", float(value))
        if key not in self.cache:
            txt = repr(float(value)).replace("-", "m").replace(".", "_")
            self.cache[key] = self.init(f"const_{txt}", np.array(value, np.float32))
        return self.cache[key]

    def bind(self, idx, y, bound):
        """y (an ONNX name) is TFLite tensor idx: give the node producing it
        the tensor's name, if y is fresh."""
        if y in self.temps:
            self.temps.discard(y)
            name = self.fresh(self.base(idx))
            n = self.producer.pop(y)
            n.output[0] = name
            n.name = name
            self.used.discard(y)
            self.producer[name] = n
            y = name
        self.name_of[idx] = y
        self.bound[y] = bound

    # ---------------------------------------------------------- tensors

    def fail(self, msg):
        where = "" if self.op is None else f" at operator {self.op.index} ({op_name(self.op.code)})"
        raise TFLiteError(msg + where)

    def is_const(self, idx):
        return idx in self.folded or self.T[idx].data is not None

    def const(self, idx):
        """The float32 (or integer, if unquantized) value of a constant, in
        TFLite layout."""
        if idx in self.folded:
            return self.folded[idx]
        t = self.T[idx]
        if t.data is None:
            self.fail(f"tensor '{t.name}' must be a constant")
        if t.sparse:
            self.fail(f"constant '{t.name}' is sparse; sparse tensors are not supported")
        tname, dtype = (TENSOR_TYPES[t.type] if 0 <= t.type < len(TENSOR_TYPES)
                        else (type_name(t.type), None))
        if dtype is None:
            self.fail(f"constant '{t.name}' has unsupported tensor type {tname}")
        count = math.prod(t.shape)
        dt = np.dtype(dtype).newbyteorder("<")
        if len(t.data) != count * dt.itemsize:
            raise FormatError(f"constant '{t.name}': {len(t.data)} bytes for shape "
                              f"{t.shape} of {tname}")
        raw = np.frombuffer(t.data, dtype=dt).reshape(t.shape)
        if np.issubdtype(dt, np.floating):
            return raw.astype(np.float32)      # float16 weights widen exactly
        if not np.issubdtype(dt, np.integer):
            self.fail(f"constant '{t.name}' has unsupported tensor type {tname}")
        if t.scale is None:
            return raw.astype(np.int64)        # shapes, axes, paddings
        return self.dequantize(t, raw)

    def dequantize(self, t, raw, scale=None, zp=None, qdim=None):
        scale = t.scale if scale is None else scale
        zp = t.zero_point if zp is None else zp
        qdim = t.qdim if qdim is None else qdim
        v = raw.astype(np.float64)
        if len(scale) > 1 or len(zp) > 1:
            n = max(len(scale), len(zp))
            if not (0 <= qdim < v.ndim) or v.shape[qdim] != n:
                raise FormatError(f"tensor '{t.name}': {n} scales for dimension "
                                  f"{qdim} of shape {list(v.shape)}")
            b = [1] * v.ndim
            b[qdim] = n
            scale = np.broadcast_to(scale, (n,)).reshape(b)
            zp = np.broadcast_to(zp, (n,)).reshape(b)
        else:
            scale, zp = scale[0], zp[0]
        return ((v - zp) * scale).astype(np.float32)

    def weight(self, idx, use, transform):
        """Initializer for constant idx after transform (cached per use)."""
        key = (idx, use)
        if key not in self.cache:
            v = self.const(idx)
            if v.dtype != np.float32:
                self.fail(f"constant '{self.T[idx].name}' is {type_name(self.T[idx].type)} "
                          f"without quantization parameters")
            self.cache[key] = self.init(self.base(idx), transform(v))
        return self.cache[key]

    def bias(self, b_idx, x_idx, w_idx, n):
        if b_idx is None or b_idx < 0:
            return self.init(self.base(w_idx) + "/zero_bias", np.zeros(n, np.float32))
        t = self.T[b_idx]

        def value(_):
            if t.scale is None and t.type in (T_INT32, T_INT64) and t.data is not None:
                # Unscaled integer bias of a quantized op: input scale x weight scale.
                xs, ws = self.T[x_idx].scale, self.T[w_idx].scale
                if xs is None or ws is None:
                    self.fail(f"integer bias '{t.name}' without quantization")
                raw = np.frombuffer(t.data, np.dtype(TENSOR_TYPES[t.type][1]).newbyteorder("<"))
                return self.dequantize(t, raw, xs[0] * ws, np.zeros(1, np.int64), 0)
            return self.const(b_idx)
        b = self.weight(b_idx, "bias", value)
        if math.prod(self.T[b_idx].shape) != n:
            self.fail(f"bias '{t.name}' has shape {self.T[b_idx].shape}, expected [{n}]")
        return b

    def check_activation_type(self, idx):
        t = self.T[idx]
        if t.type not in (T_FLOAT32, T_UINT8, T_INT8):
            self.fail(f"unsupported tensor type {type_name(t.type)} of activation tensor "
                      f"'{t.name}'")

    def x(self, idx):
        """ONNX name of an operand, in ONNX layout (4-d tensors NCHW)."""
        if idx in self.name_of:
            return self.name_of[idx]
        if self.is_const(idx):
            v = self.const(idx).astype(np.float32)
            if v.ndim == 4:
                v = v.transpose(0, 3, 1, 2)
            name = self.init(self.base(idx), v)
            self.name_of[idx] = name
            self.bound[name] = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
            return name
        raise FormatError(f"tensor '{self.T[idx].name}' is read by operator "
                          f"{self.op.index} before any operator writes it")

    def shape(self, idx):
        return list(self.T[idx].shape)

    def operand(self, idx, rank):
        """An elementwise operand broadcast to `rank` dims in ONNX layout."""
        s = self.shape(idx)
        if len(s) == rank:
            return self.x(idx)
        if len(s) > rank:
            self.fail(f"operand '{self.T[idx].name}' has rank {len(s)} > {rank}")
        full = [1] * (rank - len(s)) + s
        if self.is_const(idx):
            key = (idx, f"rank{rank}")
            if key not in self.cache:
                v = self.const(idx).astype(np.float32).reshape(full)
                if rank == 4:
                    v = v.transpose(0, 3, 1, 2)
                self.cache[key] = self.init(self.base(idx), v)
                self.bound[self.cache[key]] = (float(v.min()), float(v.max()))
            return self.cache[key]
        y = self.reshape(self.x(idx), s, full, self.base(idx) + "/broadcast")
        self.bound[y] = self.bound[self.x(idx)]
        return y

    # ---------------------------------------------------------- layout helpers

    def reshape(self, x, in_shape, out_shape, hint):
        """Reshape x (TFLite shape in_shape, ONNX layout) to TFLite shape
        out_shape, in ONNX layout, with TFLite's (NHWC) element order."""
        if len(in_shape) == 4 and not layouts_agree(in_shape):
            x = self.node("Transpose", [x], hint + "/to_nhwc", perm=[0, 2, 3, 1])
        if len(out_shape) == 4 and not layouts_agree(out_shape):
            x = self.node("Reshape", [x, self.init(hint + "/shape", np.array(out_shape, np.int64))],
                          hint + "/reshape")
            return self.node("Transpose", [x], hint + "/to_nchw", perm=[0, 3, 1, 2])
        target = nchw_shape(out_shape)
        if len(in_shape) == len(out_shape) and nchw_shape(in_shape) == target and \
                (len(in_shape) != 4 or layouts_agree(in_shape)):
            return x
        return self.node("Reshape", [x, self.init(hint + "/shape", np.array(target, np.int64))],
                         hint)

    # ---------------------------------------------------------- activations and clips

    def activation(self, y, bound, act, hint):
        lo, hi = bound
        if act == ACT_NONE:
            return y, bound
        if act == ACT_RELU:
            return self.node("Relu", [y], hint + "/relu"), (max(lo, 0.0), max(hi, 0.0))
        if act == ACT_RELU6:
            return self.clip(y, bound, 0.0, 6.0, hint + "/relu6")
        if act == ACT_RELU_N1_TO_1:
            return self.clip(y, bound, -1.0, 1.0, hint + "/relu1")
        if act == ACT_TANH:
            return self.node("Tanh", [y], hint + "/tanh"), (-1.0, 1.0)
        name = ACT_NAMES[act] if 0 <= act < len(ACT_NAMES) else str(act)
        self.fail(f"unsupported fused activation {name}")

    def clip(self, y, bound, lo, hi, hint):
        lo_name = self.shared_scalar(lo if lo > -INF else -FLT_MAX)
        hi_name = self.shared_scalar(hi if hi < INF else FLT_MAX)
        out = self.node("Clip", [y, lo_name, hi_name], hint)
        return out, (max(bound[0], lo), min(bound[1], hi))

    def range_clip(self, y, bound, idx, hint):
        """Clip y to the range TFLite tensor idx can represent, where that is
        tighter than `bound` by more than 1.5 quantization steps."""
        t = self.T[idx]
        if self.mode == "none" or t.type not in QRANGE or t.scale is None or len(t.scale) != 1:
            return y, bound
        s = float(t.scale[0])
        z = int(t.zero_point[0])
        qmin, qmax = QRANGE[t.type]
        qlo, qhi = s * (qmin - z), s * (qmax - z)
        tol = 1.5 * s
        lo, hi = bound
        new_lo = qlo if qlo > lo + tol else lo
        new_hi = qhi if qhi < hi - tol else hi
        if (new_lo, new_hi) == (lo, hi):
            return y, bound
        # Round a bound within a step of 0 (ReLU) or 6 (ReLU6) to it: the
        # quantized graph cannot tell them apart, and Clip(0, 6) is a known
        # pattern for backends.
        if abs(new_lo) <= tol:
            new_lo = 0.0
            if abs(new_hi - 6.0) <= tol:
                new_hi = 6.0
        if self.mode == "relu" and new_lo != 0.0:
            return y, bound
        self.range_clips += 1
        self.log(f"range clip [{new_lo:.4g}, {new_hi:.4g}] on {hint} "
                 f"(float bound [{lo:.4g}, {hi:.4g}])")
        return self.clip(y, bound, new_lo, new_hi, hint + "/range")

    def finish(self, op, y, bound, act=ACT_NONE, clip=True):
        idx = op.outputs[0]
        hint = self.base(idx)
        y, bound = self.activation(y, bound, act, hint)
        if clip:
            y, bound = self.range_clip(y, bound, idx, hint)
        self.bind(idx, y, bound)

    def act_of(self, op, slot):
        return self.opt_scalar(op, slot, N.Int8Flags, ACT_NONE)

    # ---------------------------------------------------------- operators

    def opt_scalar(self, op, slot, flags, default):
        """A field of the operator's options table (default if absent)."""
        return default if op.options is None else op.options.scalar(slot, flags, default)

    def opt_int(self, op, slot, default):
        return self.opt_scalar(op, slot, N.Int32Flags, default)

    def opt_byte(self, op, slot, default):
        return self.opt_scalar(op, slot, N.Int8Flags, default)

    def opt_float(self, op, slot, default):
        return self.opt_scalar(op, slot, N.Float32Flags, default)

    def need_inputs(self, op, lo, hi=None):
        n = len(op.inputs)
        if n < lo or (hi is not None and n > hi) or any(i < 0 for i in op.inputs[:lo]):
            self.fail(f"{n} inputs")
        if not op.outputs:
            self.fail("no outputs")

    def need_rank(self, idx, rank):
        if len(self.shape(idx)) != rank:
            self.fail(f"tensor '{self.T[idx].name}' has shape {self.shape(idx)}, "
                      f"expected rank {rank}")

    def spatial(self, x_idx, kh, kw, sh, sw, dh, dw, padding):
        if min(kh, kw, sh, sw, dh, dw) < 1:
            self.fail(f"bad window: kernel {kh}x{kw}, stride {sh}x{sw}, dilation {dh}x{dw}")
        _, h, w, _ = self.shape(x_idx)
        if padding == PAD_SAME:
            (t, b), (l, r) = same_pads(h, kh, sh, dh), same_pads(w, kw, sw, dw)
        elif padding == PAD_VALID:
            t = b = l = r = 0
        else:
            self.fail(f"unknown padding {padding}")
        return [t, l, b, r]

    def conv_input(self, x_idx):
        """The conv's input and extra pads [t, l, b, r] of a folded PAD."""
        if x_idx in self.pad_fold:
            src, pads = self.pad_fold[x_idx]
            return self.x(src), list(pads), self.shape(src)
        return self.x(x_idx), [0, 0, 0, 0], self.shape(x_idx)

    def op_conv(self, op, depthwise):
        self.need_inputs(op, 2, 3)
        x_idx, w_idx = op.inputs[0], op.inputs[1]
        b_idx = op.inputs[2] if len(op.inputs) > 2 else None
        self.need_rank(x_idx, 4)
        self.need_rank(w_idx, 4)
        if not self.is_const(w_idx):
            self.fail("non-constant filter")
        F = F_DWCONV if depthwise else F_CONV
        sw, sh = self.opt_int(op, F["stride_w"], 0), self.opt_int(op, F["stride_h"], 0)
        dw, dh = self.opt_int(op, F["dilation_w"], 1), self.opt_int(op, F["dilation_h"], 1)
        padding = self.opt_byte(op, F["padding"], PAD_SAME)
        act = self.act_of(op, F["act"])
        x, extra, in_shape = self.conv_input(x_idx)
        c_in = self.shape(x_idx)[3]
        wshape = self.shape(w_idx)
        if depthwise:
            _, kh, kw, c_out = wshape
            if wshape[0] != 1 or c_out % c_in:
                self.fail(f"depthwise filter {wshape} for {c_in} input channels")
            group = c_in
            w = self.weight(w_idx, "dwconv", lambda v: v.transpose(3, 0, 1, 2))
        else:
            c_out, kh, kw, wc = wshape
            if c_in % wc:
                self.fail(f"filter {wshape} for {c_in} input channels")
            group = c_in // wc
            w = self.weight(w_idx, "conv", lambda v: v.transpose(0, 3, 1, 2))
        pads = self.spatial(x_idx, kh, kw, sh, sw, dh, dw, padding)
        pads = [a + b for a, b in zip(pads, extra)]
        b = self.bias(b_idx, x_idx, w_idx, c_out)
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
        if dh != 1 or dw != 1:
            attrs["dilations"] = [dh, dw]
        if group != 1:
            attrs["group"] = group
        y = self.node("Conv", [x, w, b], self.base(op.outputs[0]) + "/conv", **attrs)
        self.finish(op, y, (-INF, INF), act)

    def op_pool(self, op, kind):
        self.need_inputs(op, 1, 1)
        x_idx = op.inputs[0]
        self.need_rank(x_idx, 4)
        F = F_POOL
        sw, sh = self.opt_int(op, F["stride_w"], 0), self.opt_int(op, F["stride_h"], 0)
        kw, kh = self.opt_int(op, F["filter_w"], 0), self.opt_int(op, F["filter_h"], 0)
        padding = self.opt_byte(op, F["padding"], PAD_SAME)
        act = self.act_of(op, F["act"])
        x = self.x(x_idx)
        _, h, w, _ = self.shape(x_idx)
        pads = self.spatial(x_idx, kh, kw, sh, sw, 1, 1, padding)
        hint = self.base(op.outputs[0]) + "/pool"
        if kh == h and kw == w and pads == [0, 0, 0, 0]:
            y = self.node("GlobalAveragePool" if kind == "avg" else "GlobalMaxPool", [x], hint)
        else:
            # TF's SAME average excludes the padding from the count, as does
            # ONNX's default count_include_pad = 0.
            y = self.node("AveragePool" if kind == "avg" else "MaxPool", [x], hint,
                          kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
        self.finish(op, y, self.bound[x], act)

    def op_fully_connected(self, op):
        self.need_inputs(op, 2, 3)
        x_idx, w_idx = op.inputs[0], op.inputs[1]
        b_idx = op.inputs[2] if len(op.inputs) > 2 else None
        if not self.is_const(w_idx):
            self.fail("non-constant weights")
        self.need_rank(w_idx, 2)
        if self.opt_byte(op, F_FC["weights_format"], 0) != 0:
            self.fail("shuffled weights format")
        act = self.act_of(op, F_FC["act"])
        n_out, n_in = self.shape(w_idx)
        s = self.shape(x_idx)
        total = math.prod(s)
        if total % n_in:
            self.fail(f"input {s} does not split into rows of {n_in}")
        hint = self.base(op.outputs[0])
        x = self.x(x_idx)
        if s != [total // n_in, n_in]:
            # TFLite flattens in NHWC order.
            x = self.reshape(x, s, [total // n_in, n_in], hint + "/flatten")
        w = self.weight(w_idx, "fc", lambda v: v)
        b = self.bias(b_idx, x_idx, w_idx, n_out)
        y = self.node("Gemm", [x, w, b], hint + "/gemm", transB=1)
        out_shape = self.shape(op.outputs[0])
        if out_shape != [total // n_in, n_out]:
            y = self.reshape(y, [total // n_in, n_out], out_shape, hint + "/reshape")
        self.finish(op, y, (-INF, INF), act)

    def op_binary(self, op, onnx_op):
        self.need_inputs(op, 2, 2)
        rank = len(self.shape(op.outputs[0]))
        a, b = (self.operand(i, rank) for i in op.inputs)
        act = self.act_of(op, F_BINARY["act"])
        ba, bb = self.bound[a], self.bound[b]
        if onnx_op == "Add":
            bound = (ba[0] + bb[0], ba[1] + bb[1])
        elif onnx_op == "Sub":
            bound = (ba[0] - bb[1], ba[1] - bb[0])
        else:
            bound = mul_bound(ba, bb)
        bound = (-INF if math.isnan(bound[0]) else bound[0],
                 INF if math.isnan(bound[1]) else bound[1])
        y = self.node(onnx_op, [a, b], self.base(op.outputs[0]) + "/" + onnx_op.lower())
        self.finish(op, y, bound, act)

    def op_concat(self, op):
        self.need_inputs(op, 1)
        rank = len(self.shape(op.outputs[0]))
        axis = self.opt_int(op, F_CONCAT["axis"], 0)
        if axis < 0:
            axis += rank
        if not 0 <= axis < rank:
            self.fail(f"axis {axis} for rank {rank}")
        if rank == 4:
            axis = NHWC_TO_NCHW_AXIS[axis]
        xs = [self.operand(i, rank) for i in op.inputs]
        act = self.act_of(op, F_CONCAT["act"])
        y = self.node("Concat", xs, self.base(op.outputs[0]) + "/concat", axis=axis)
        self.finish(op, y, hull([self.bound[v] for v in xs]), act)

    def op_reshape(self, op):
        self.need_inputs(op, 1, 2)
        x_idx, out = op.inputs[0], op.outputs[0]
        out_shape = self.shape(out)
        if not out_shape or min(out_shape) < 1:
            self.fail(f"output '{self.T[out].name}' has no static shape ({out_shape})")
        if math.prod(out_shape) != math.prod(self.shape(x_idx)):
            self.fail(f"cannot reshape {self.shape(x_idx)} to {out_shape}")
        x = self.x(x_idx)
        y = self.reshape(x, self.shape(x_idx), out_shape, self.base(out) + "/reshape")
        self.bind(out, y, self.bound[x])

    def op_softmax(self, op):
        self.need_inputs(op, 1, 1)
        x_idx = op.inputs[0]
        rank = len(self.shape(x_idx))
        # A missing beta reads as 1: the schema's 0 would be a uniform output.
        beta = self.opt_float(op, F_SOFTMAX["beta"], 1.0)
        x = self.x(x_idx)
        hint = self.base(op.outputs[0])
        if beta != 1.0:
            x = self.node("Mul", [x, self.shared_scalar(beta)], hint + "/beta")
        y = self.node("Softmax", [x], hint + "/softmax", axis=1 if rank == 4 else rank - 1)
        self.finish(op, y, (0.0, 1.0), clip=False)

    def op_mean(self, op):
        self.need_inputs(op, 2, 2)
        x_idx, a_idx, out = op.inputs[0], op.inputs[1], op.outputs[0]
        if not self.is_const(a_idx):
            self.fail("non-constant axes")
        s = self.shape(x_idx)
        rank = len(s)
        axes = sorted({int(a) + rank if int(a) < 0 else int(a)
                       for a in np.asarray(self.const(a_idx)).reshape(-1)})
        if any(not 0 <= a < rank for a in axes):
            self.fail(f"axes {axes} for rank {rank}")
        keep = bool(self.opt_scalar(op, F_REDUCER["keep_dims"], N.BoolFlags, False))
        x = self.x(x_idx)
        hint = self.base(out)
        if rank == 4 and axes == [1, 2]:
            y = self.node("GlobalAveragePool", [x], hint + "/mean")
            kept = [s[0], 1, 1, s[3]]
        elif rank == 4:
            y = self.node("ReduceMean", [x], hint + "/mean",
                          axes=[NHWC_TO_NCHW_AXIS[a] for a in axes], keepdims=1)
            kept = [1 if i in axes else d for i, d in enumerate(s)]
        else:
            y = self.node("ReduceMean", [x], hint + "/mean", axes=axes, keepdims=int(keep))
            kept = None
        if kept is not None and not keep:
            y = self.reshape(y, kept, self.shape(out), hint + "/squeeze")
        self.finish(op, y, self.bound[x])

    def pad_amounts(self, op):
        x_idx, p_idx = op.inputs[0], op.inputs[1]
        if not self.is_const(p_idx):
            self.fail("non-constant paddings")
        rank = len(self.shape(x_idx))
        p = np.asarray(self.const(p_idx)).astype(np.int64).reshape(-1)
        if p.size != 2 * rank:
            self.fail(f"paddings of {p.size} values for rank {rank}")
        return p.reshape(rank, 2)

    def pad_value(self, op):
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            v = np.asarray(self.const(op.inputs[2]), np.float32).reshape(-1)
            return float(v[0]) if v.size else 0.0
        return 0.0

    def plan_pad_folds(self):
        """PADs (zeros on H and W only) read only by convolutions fold into
        the convolutions' pads."""
        readers = {}
        for op in self.m.operators:
            for i in op.inputs:
                readers.setdefault(i, []).append(op)
        for op in self.m.operators:
            self.op = op
            if op_name(op.code) not in ("PAD", "PADV2") or len(op.inputs) < 2 or not op.outputs:
                continue
            out = op.outputs[0]
            rs = readers.get(out, [])
            if not rs or out in self.m.outputs or len(self.shape(op.inputs[0])) != 4:
                continue
            if any(op_name(r.code) not in ("CONV_2D", "DEPTHWISE_CONV_2D") or r.inputs[0] != out
                   or out in r.inputs[1:] for r in rs):
                continue
            try:
                p = self.pad_amounts(op)
            except TFLiteError:
                continue
            if p[0].any() or p[3].any() or (p < 0).any() or self.pad_value(op) != 0.0:
                continue
            self.pad_fold[out] = (op.inputs[0], (int(p[1][0]), int(p[2][0]),
                                                 int(p[1][1]), int(p[2][1])))
        self.op = None

    def op_pad(self, op):
        self.need_inputs(op, 2, 3)
        out = op.outputs[0]
        if out in self.pad_fold:
            return      # folded into the convolutions that read it
        x_idx = op.inputs[0]
        p = self.pad_amounts(op)
        if (p < 0).any():
            self.fail("negative paddings")
        if len(self.shape(x_idx)) == 4:
            p = p[[0, 3, 1, 2]]
        pads = np.concatenate([p[:, 0], p[:, 1]]).astype(np.int64)
        value = self.pad_value(op)
        x = self.x(x_idx)
        hint = self.base(out)
        ins = [x, self.init(hint + "/pads", pads)]
        if value != 0.0:
            ins.append(self.shared_scalar(value))
        y = self.node("Pad", ins, hint + "/pad", mode="constant")
        lo, hi = self.bound[x]
        self.finish(op, y, (min(lo, value), max(hi, value)))

    def op_identity(self, op):
        """QUANTIZE and DEQUANTIZE: identities in float."""
        self.need_inputs(op, 1, 1)
        x_idx, out = op.inputs[0], op.outputs[0]
        if self.is_const(x_idx) and x_idx not in self.name_of:
            self.folded[out] = self.const(x_idx).astype(np.float32)
            return
        x = self.x(x_idx)
        if op_name(op.code) == "QUANTIZE":
            y, bound = self.range_clip(x, self.bound[x], out, self.base(out))
        else:
            y, bound = x, self.bound[x]
        self.bind(out, y, bound)

    def op_unary(self, op):
        self.need_inputs(op, 1, 1)
        name = op_name(op.code)
        x = self.x(op.inputs[0])
        lo, hi = self.bound[x]
        hint = self.base(op.outputs[0])
        if name == "RELU":
            y, b = self.activation(x, (lo, hi), ACT_RELU, hint)
        elif name == "RELU6":
            y, b = self.activation(x, (lo, hi), ACT_RELU6, hint)
        elif name == "RELU_N1_TO_1":
            y, b = self.activation(x, (lo, hi), ACT_RELU_N1_TO_1, hint)
        elif name == "TANH":
            y, b = self.activation(x, (lo, hi), ACT_TANH, hint)
        elif name == "LOGISTIC":
            y, b = self.node("Sigmoid", [x], hint + "/sigmoid"), (0.0, 1.0)
        elif name == "HARD_SWISH":
            self.opset = max(self.opset, 14)     # HardSwish is new in opset 14
            y, b = self.node("HardSwish", [x], hint + "/hardswish"), (-0.375, max(hi, 0.0))
        elif name == "LEAKY_RELU":
            alpha = self.opt_float(op, F_LEAKY["alpha"], 0.0)
            y = self.node("LeakyRelu", [x], hint + "/leakyrelu", alpha=alpha)
            b = mul_bound((lo, hi), (alpha, 1.0))
        self.finish(op, y, b, clip=name not in ("LOGISTIC", "TANH"))

    # ---------------------------------------------------------- driver

    def check_supported(self):
        for op in self.m.operators:
            name = op_name(op.code)
            if name not in self.SUPPORTED:
                what = f"CUSTOM '{op.custom}'" if name == "CUSTOM" else name
                raise TFLiteError(f"unsupported op {what} (builtin code {op.code}) "
                                   f"at operator {op.index}")
            for i in op.outputs:
                self.op = op
                self.check_activation_type(i)
        self.op = None

    def convert(self):
        m = self.m
        if not m.inputs or not m.outputs:
            raise TFLiteError("the main subgraph has no inputs or no outputs")
        self.check_supported()
        for i in m.inputs:
            t = self.T[i]
            self.check_activation_type(i)
            name = self.fresh(self.base(i))
            shape = t.shape
            if not shape or min(shape) < 1:
                raise TFLiteError(f"input '{t.name}' has no static shape ({shape})")
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                             nchw_shape(shape)))
            bound = (-INF, INF)
            if t.type in QRANGE and t.scale is not None:
                qmin, qmax = QRANGE[t.type]
                s, z = float(t.scale[0]), int(t.zero_point[0])
                bound = (s * (qmin - z), s * (qmax - z))
            self.name_of[i] = name
            self.bound[name] = bound
        self.plan_pad_folds()
        handlers = {
            "CONV_2D": lambda op: self.op_conv(op, False),
            "DEPTHWISE_CONV_2D": lambda op: self.op_conv(op, True),
            "AVERAGE_POOL_2D": lambda op: self.op_pool(op, "avg"),
            "MAX_POOL_2D": lambda op: self.op_pool(op, "max"),
            "FULLY_CONNECTED": self.op_fully_connected,
            "ADD": lambda op: self.op_binary(op, "Add"),
            "SUB": lambda op: self.op_binary(op, "Sub"),
            "MUL": lambda op: self.op_binary(op, "Mul"),
            "CONCATENATION": self.op_concat,
            "RESHAPE": self.op_reshape,
            "SQUEEZE": self.op_reshape,
            "SOFTMAX": self.op_softmax,
            "MEAN": self.op_mean,
            "PAD": self.op_pad,
            "PADV2": self.op_pad,
            "QUANTIZE": self.op_identity,
            "DEQUANTIZE": self.op_identity,
        }
        for op in m.operators:
            self.op = op
            if len(op.outputs) != 1:
                self.fail(f"{len(op.outputs)} outputs")
            want = OPTIONS_TYPE.get(op_name(op.code))
            if op.options is not None and want is not None and op.options_type not in (0, want):
                self.fail(f"options of union type {op.options_type}, expected {want}")
            handlers.get(op_name(op.code), self.op_unary)(op)
        self.op = None

        outputs = []
        input_names = {v.name for v in self.inputs}
        seen = set()
        for i in m.outputs:
            if i not in self.name_of:
                raise TFLiteError(f"output '{self.T[i].name}' is never computed")
            y = self.name_of[i]
            if y in input_names or y in seen or y not in self.producer:
                y = self.node("Identity", [y], self.base(i))
                self.temps.discard(y)
            elif y != self.base(i) and not any(y in n.input for n in self.nodes):
                # The tensor is an alias (QUANTIZE, RESHAPE ...): give the
                # output the TFLite output's name.
                n = self.producer.pop(y)
                self.used.discard(y)
                y = self.fresh(self.base(i))
                n.output[0] = n.name = y
                self.producer[y] = n
            seen.add(y)
            outputs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT,
                                                         nchw_shape(self.shape(i))))
        graph = helper.make_graph(self.nodes, "tflite_import", self.inputs, outputs,
                                  initializer=self.inits)
        return graph


# ---------------------------------------------------------------- metadata, main

def metadata(model, conv, path, digest, graph):
    t = model.tensors[model.inputs[0]]
    props = {}
    if len(t.shape) == 4:
        if t.type in QRANGE and t.scale is not None:
            s, z = float(t.scale[0]), int(t.zero_point[0])
            # x = (pixel - mean) / std = s * (q - z); an int8 input is pixel - 128.
            mean = z + (128 if t.type == T_INT8 else 0)
            props["jalad.preprocess.scale"] = "1"
            props["jalad.preprocess.mean"] = f"{mean:g}"
            props["jalad.preprocess.std"] = f"{1.0 / s:.9g}"
        else:
            props["jalad.preprocess.scale"] = "1"
            props["jalad.preprocess.mean"] = "127.5"
            props["jalad.preprocess.std"] = "127.5"
            props["jalad.preprocess.note"] = (
                "float32 TFLite input: assumed MobileNet's [-1, 1] convention "
                "(pixel - 127.5) / 127.5, not stated by the file")
        props["jalad.preprocess.crop"] = "central:0.875"
        props["jalad.input.layout"] = "NCHW"
    out = graph.output[0].type.tensor_type.shape.dim
    classes = out[len(out) - 1].dim_value if len(out) else 0
    props["jalad.labels.offset"] = "1" if classes == 1001 else "0"
    props["jalad.source"] = f"tflite import of {os.path.basename(path)}, sha256 {digest}"
    props["jalad.import.range_clips"] = f"{conv.mode}: {conv.range_clips} clips"
    return props


def import_file(path, range_clips="relu", log=None):
    """Read a .tflite file, return the onnx.ModelProto. Raises TFLiteError."""
    with open(path, "rb") as f:
        buf = f.read()
    try:
        model = parse_tflite(buf)
        conv = Converter(model, range_clips, log)
        graph = conv.convert()
    except (struct.error, IndexError, OverflowError, ValueError, MemoryError) as e:
        raise FormatError(f"not a well-formed TFLite flatbuffer ({type(e).__name__}: {e})")
    onnx_model = helper.make_model(graph, producer_name="jalad import_tflite",
                                   opset_imports=[helper.make_opsetid("", conv.opset)])
    onnx_model.ir_version = 7
    onnx_model.doc_string = (model.description or "")[:200]
    helper.set_model_props(onnx_model, metadata(model, conv, path,
                                                hashlib.sha256(buf).hexdigest(), graph))
    onnx.checker.check_model(onnx_model)
    return onnx_model


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=PROG, description="Import a TFLite CNN classifier as a float32 ONNX model.")
    ap.add_argument("input", metavar="IN.tflite")
    ap.add_argument("output", metavar="OUT.onnx")
    ap.add_argument("--range-clips", choices=RANGE_CLIP_MODES, default="relu",
                    help="clip quantized tensors to their representable range where "
                         "it is tighter than the float graph's: relu (default: only "
                         "where the range implies a ReLU/ReLU6), all, none")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    log = (lambda msg: print(f"{PROG}: {msg}", file=sys.stderr)) if args.verbose else None
    try:
        m = import_file(args.input, args.range_clips, log)
    except OSError as e:
        print(f"{PROG}: cannot read {args.input}: {e.strerror or e}", file=sys.stderr)
        return 1
    except TFLiteError as e:
        print(f"{PROG}: {e} (in {args.input})", file=sys.stderr)
        return 1
    except onnx.checker.ValidationError as e:
        print(f"{PROG}: the ONNX model made from {args.input} fails the checker: {e}",
              file=sys.stderr)
        return 1
    tmp = args.output + ".tmp"
    try:
        onnx.save(m, tmp)
        os.replace(tmp, args.output)
    except OSError as e:
        print(f"{PROG}: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        if os.path.exists(tmp):
            os.remove(tmp)
        return 1
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"{PROG}: {args.input} -> {args.output}: {len(m.graph.node)} nodes ("
          + " ".join(f"{k}x{v}" for k, v in sorted(ops.items()))
          + f"), opset {m.opset_import[0].version}, "
          + m.metadata_props[-1].value, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
