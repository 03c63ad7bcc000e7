#!/usr/bin/python3
"""Tiny TFLite models for tests/integration/tflite.sh, and what they compute.

    make_tflite.py float|layout|quant DIR   DIR/model.tflite, DIR/input.pb, DIR/expected.pb
    make_tflite.py lstm|custom|gelu|int16 OUT.tflite    models the importer must refuse
    make_tflite.py compare GOT.pb WANT.pb TOL           exit 0 if max |got - want| <= TOL

The flatbuffers are written with flatbuffers.Builder, field ids from
TensorFlow's tensorflow/lite/schema/schema.fbs. input.pb is the float input
of the imported model (NCHW; for a uint8 input the dequantized values),
expected.pb the output computed here in numpy from the TFLite semantics
(NHWC, TF "SAME" padding, float64, dequantized weights), independently of
models/import_tflite.py. The quantized model's expected output includes the
clip that the importer documents for a tensor whose quantized range implies
a ReLU6 ([0, 6] with no fused activation).
"""

import sys

import numpy as np

import flatbuffers
from onnx import TensorProto, numpy_helper

# TensorType
FLOAT32, FLOAT16, INT32, UINT8, INT16, INT8 = 0, 1, 2, 3, 7, 9
NP = {FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32, UINT8: np.uint8,
      INT16: np.int16, INT8: np.int8}
# BuiltinOperator
ADD, AVERAGE_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D = 0, 1, 2, 3, 4
DEQUANTIZE, FULLY_CONNECTED, LOGISTIC, LSTM, MAX_POOL_2D, MUL = 6, 9, 14, 16, 17, 18
RELU, RESHAPE, SOFTMAX, CUSTOM, PAD, MEAN, SQUEEZE = 19, 22, 25, 32, 34, 40, 43
QUANTIZE, HARD_SWISH, GELU = 114, 117, 150
# BuiltinOptions union types
O_CONV, O_DWCONV, O_POOL, O_FC, O_SOFTMAX, O_CONCAT, O_ADD = 1, 2, 5, 8, 9, 10, 11
O_RESHAPE, O_MUL, O_PAD, O_REDUCER, O_SQUEEZE = 17, 21, 22, 27, 30
SAME, VALID = 0, 1
ACT_NONE, ACT_RELU, ACT_RELU6 = 0, 1, 3


class Writer:
    """Collects tensors and operators, then writes one subgraph."""

    def __init__(self):
        self.tensors = []
        self.buffers = [b""]
        self.codes = []
        self.ops = []

    def tensor(self, name, shape, ttype, data=None, scale=None, zp=None, qdim=0):
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data, dtype=NP[ttype]).tobytes())
            buf = len(self.buffers) - 1
        self.tensors.append(dict(name=name, shape=list(shape), type=ttype, buffer=buf,
                                 scale=scale, zp=zp, qdim=qdim))
        return len(self.tensors) - 1

    def const(self, name, array, ttype, **q):
        return self.tensor(name, array.shape, ttype, array, **q)

    def op(self, code, inputs, outputs, opts_type=0, opts=(), custom=None):
        """opts: (slot, kind, value) with kind in i8 i32 f32 bool ivec."""
        key = (code, custom)
        if key not in self.codes:
            self.codes.append(key)
        self.ops.append(dict(code=self.codes.index(key), inputs=inputs, outputs=outputs,
                             opts_type=opts_type, opts=list(opts)))

    def build(self, inputs, outputs):
        b = flatbuffers.Builder(1024)

        def vec(values, width, prepend):
            b.StartVector(width, len(values), width)
            for v in reversed(values):
                prepend(v)
            return b.EndVector()

        def ivec(values):
            return vec([int(v) for v in values], 4, b.PrependInt32)

        def offvec(offs):
            return vec(offs, 4, b.PrependUOffsetTRelative)

        buffers = []
        for data in self.buffers:
            d = b.CreateByteVector(data) if data else None
            b.StartObject(3)
            if d is not None:
                b.PrependUOffsetTRelativeSlot(0, d, 0)
            buffers.append(b.EndObject())

        tensors = []
        for t in self.tensors:
            name = b.CreateString(t["name"])
            shape = ivec(t["shape"])
            quant = None
            if t["scale"] is not None:
                scale = vec([float(v) for v in np.atleast_1d(t["scale"])], 4, b.PrependFloat32)
                zp = vec([int(v) for v in np.atleast_1d(t["zp"])], 8, b.PrependInt64)
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, scale, 0)
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
                b.PrependInt32Slot(6, t["qdim"], 0)
                quant = b.EndObject()
            b.StartObject(8)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t["type"], 0)
            b.PrependUint32Slot(2, t["buffer"], 0)
            b.PrependUOffsetTRelativeSlot(3, name, 0)
            if quant is not None:
                b.PrependUOffsetTRelativeSlot(4, quant, 0)
            tensors.append(b.EndObject())

        ops = []
        for o in self.ops:
            vecs = {s: ivec(v) for s, k, v in o["opts"] if k == "ivec"}
            opts = None
            if o["opts"]:
                b.StartObject(max(s for s, _, _ in o["opts"]) + 1)
                for s, k, v in o["opts"]:
                    if k == "i8":
                        b.PrependInt8Slot(s, v, 0)
                    elif k == "i32":
                        b.PrependInt32Slot(s, v, 0)
                    elif k == "f32":
                        b.PrependFloat32Slot(s, v, 0.0)
                    elif k == "bool":
                        b.PrependBoolSlot(s, v, False)
                    else:
                        b.PrependUOffsetTRelativeSlot(s, vecs[s], 0)
                opts = b.EndObject()
            ins, outs = ivec(o["inputs"]), ivec(o["outputs"])
            b.StartObject(9)
            b.PrependUint32Slot(0, o["code"], 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            if opts is not None:
                b.PrependUint8Slot(3, o["opts_type"], 0)
                b.PrependUOffsetTRelativeSlot(4, opts, 0)
            ops.append(b.EndObject())

        codes = []
        for code, custom in self.codes:
            cname = b.CreateString(custom) if custom else None
            b.StartObject(4)
            # The byte field tops out at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES).
            b.PrependInt8Slot(0, min(code, 127), 0)
            if cname is not None:
                b.PrependUOffsetTRelativeSlot(1, cname, 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, code, 0)
            codes.append(b.EndObject())

        t_vec, o_vec = offvec(tensors), offvec(ops)
        in_vec, out_vec = ivec(inputs), ivec(outputs)
        sg_name = b.CreateString("main")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, t_vec, 0)
        b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, o_vec, 0)
        b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
        sg = b.EndObject()

        c_vec, s_vec, b_vec = offvec(codes), offvec([sg]), offvec(buffers)
        desc = b.CreateString("jalad test model")
        b.StartObject(8)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, c_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, s_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, b_vec, 0)
        b.Finish(b.EndObject(), file_identifier=b"TFL3")
        return bytes(b.Output())


def conv_opts(padding, stride, act):
    return [(0, "i8", padding), (1, "i32", stride), (2, "i32", stride), (3, "i8", act)]


def dw_opts(padding, stride, mult, act):
    return [(0, "i8", padding), (1, "i32", stride), (2, "i32", stride), (3, "i32", mult),
            (4, "i8", act)]


def pool_opts(padding, stride, k):
    return [(0, "i8", padding), (1, "i32", stride), (2, "i32", stride), (3, "i32", k),
            (4, "i32", k)]


# ---------------------------------------------------------------- numpy reference (NHWC)

def same_pad(n, k, s):
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pads_of(x, kh, kw, s, padding):
    if padding == VALID:
        return (0, 0), (0, 0)
    return same_pad(x.shape[1], kh, s), same_pad(x.shape[2], kw, s)


def ref_conv(x, w, b, s, padding, depthwise=False):
    if depthwise:
        kh, kw, o = w.shape[1], w.shape[2], w.shape[3]
    else:
        o, kh, kw = w.shape[0], w.shape[1], w.shape[2]
    ph, pw = pads_of(x, kh, kw, s, padding)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    oh = (xp.shape[1] - kh) // s + 1
    ow = (xp.shape[2] - kw) // s + 1
    y = np.zeros((x.shape[0], oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s, :]
            if depthwise:
                y += np.repeat(patch, o // x.shape[3], axis=3) * w[0, i, j, :]
            else:
                y += patch @ w[:, i, j, :].T
    return y + b


def ref_pool(x, k, s, padding, kind):
    ph, pw = pads_of(x, k, k, s, padding)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=np.nan)
    oh = (xp.shape[1] - k) // s + 1
    ow = (xp.shape[2] - k) // s + 1
    win = np.stack([xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s, :]
                    for i in range(k) for j in range(k)])
    return np.nanmax(win, axis=0) if kind == "max" else np.nanmean(win, axis=0)


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def hard_swish(v):
    return v * np.clip(v + 3.0, 0.0, 6.0) / 6.0


# ---------------------------------------------------------------- the models

def model_float(rng):
    """CONV_2D (SAME, stride 2, RELU6), DEPTHWISE_CONV_2D (multiplier 2),
    1x1 CONV_2D (RELU), ADD, MEAN over H and W, FULLY_CONNECTED, SOFTMAX."""
    w = Writer()
    x = rng.standard_normal((1, 8, 7, 3))
    w0 = rng.standard_normal((6, 3, 3, 3)) * 0.8
    b0 = rng.standard_normal(6) * 0.5
    w1 = rng.standard_normal((1, 3, 3, 12)) * 0.5
    b1 = rng.standard_normal(12) * 0.5
    w2 = rng.standard_normal((12, 1, 1, 6)) * 0.5
    b2 = rng.standard_normal(12) * 0.5
    w3 = rng.standard_normal((5, 12)) * 0.2
    b3 = rng.standard_normal(5) * 0.5

    t_x = w.tensor("input", [1, 8, 7, 3], FLOAT32)
    t_c0 = w.tensor("conv0/Relu6", [1, 4, 4, 6], FLOAT32)
    t_dw = w.tensor("dw1/BiasAdd", [1, 4, 4, 12], FLOAT32)
    t_c2 = w.tensor("conv2/Relu", [1, 4, 4, 12], FLOAT32)
    t_add = w.tensor("add", [1, 4, 4, 12], FLOAT32)
    t_mean = w.tensor("mean", [1, 12], FLOAT32)
    t_fc = w.tensor("logits", [1, 5], FLOAT32)
    t_out = w.tensor("probs", [1, 5], FLOAT32)
    f = lambda name, v: w.const(name, v, FLOAT32)
    w.op(CONV_2D, [t_x, f("conv0/w", w0), f("conv0/b", b0)], [t_c0], O_CONV,
         conv_opts(SAME, 2, ACT_RELU6))
    w.op(DEPTHWISE_CONV_2D, [t_c0, f("dw1/w", w1), f("dw1/b", b1)], [t_dw], O_DWCONV,
         dw_opts(SAME, 1, 2, ACT_NONE))
    w.op(CONV_2D, [t_c0, f("conv2/w", w2), f("conv2/b", b2)], [t_c2], O_CONV,
         conv_opts(SAME, 1, ACT_RELU))
    w.op(ADD, [t_dw, t_c2], [t_add], O_ADD, [(0, "i8", ACT_NONE)])
    w.op(MEAN, [t_add, w.const("axes", np.array([1, 2]), INT32)], [t_mean], O_REDUCER)
    w.op(FULLY_CONNECTED, [t_mean, f("fc/w", w3), f("fc/b", b3)], [t_fc], O_FC)
    w.op(SOFTMAX, [t_fc], [t_out], O_SOFTMAX, [(0, "f32", 1.0)])

    c0 = np.clip(ref_conv(x, w0, b0, 2, SAME), 0, 6)
    a = ref_conv(c0, w1, b1, 1, SAME, depthwise=True) + np.maximum(ref_conv(c0, w2, b2, 1, SAME), 0)
    y = softmax(a.mean(axis=(1, 2)) @ w3.T + b3)
    return w.build([t_x], [t_out]), x, y


def model_layout(rng):
    """Layout traps: float16 weights through DEQUANTIZE, PAD folded into a
    VALID conv, MUL by a per-channel
    constant, CONCATENATION on axis -1, MAX/AVERAGE_POOL_2D with SAME
    padding at the edges, LOGISTIC * x, HARD_SWISH, a RESHAPE between two
    4-d shapes, FULLY_CONNECTED on a 4-d input (NHWC flattening), RESHAPE
    to 4-d and SQUEEZE back."""
    w = Writer()
    x = rng.standard_normal((1, 6, 5, 4))
    wc = (rng.standard_normal((3, 3, 3, 4)) * 0.5).astype(np.float16).astype(np.float64)
    bc = rng.standard_normal(3) * 0.2
    mc = np.array([0.5, -2.0, 1.5])
    wf = rng.standard_normal((7, 36)) * 0.3
    bf = rng.standard_normal(7) * 0.1
    f = lambda name, v: w.const(name, v, FLOAT32)

    t_x = w.tensor("image", [1, 6, 5, 4], FLOAT32)
    t_pad = w.tensor("pad", [1, 8, 6, 4], FLOAT32)
    t_wc = w.tensor("conv/w_dequantized", [3, 3, 3, 4], FLOAT32)
    t_conv = w.tensor("conv", [1, 6, 4, 3], FLOAT32)
    t_mul = w.tensor("scaled", [1, 6, 4, 3], FLOAT32)
    t_cat = w.tensor("concat", [1, 6, 4, 6], FLOAT32)
    t_max = w.tensor("maxpool", [1, 3, 2, 6], FLOAT32)
    t_sig = w.tensor("sigmoid", [1, 3, 2, 6], FLOAT32)
    t_swish = w.tensor("swish", [1, 3, 2, 6], FLOAT32)
    t_hs = w.tensor("hardswish", [1, 3, 2, 6], FLOAT32)
    t_avg = w.tensor("avgpool", [1, 3, 2, 6], FLOAT32)
    t_rs = w.tensor("reshaped", [1, 2, 3, 6], FLOAT32)
    t_fc = w.tensor("fc", [1, 7], FLOAT32)
    t_4d = w.tensor("fc4d", [1, 1, 1, 7], FLOAT32)
    t_out = w.tensor("output", [1, 7], FLOAT32)
    w.op(PAD, [t_x, w.const("paddings", np.array([[0, 0], [1, 1], [0, 1], [0, 0]]), INT32)],
         [t_pad], O_PAD)
    w.op(DEQUANTIZE, [w.const("conv/w_f16", wc, FLOAT16)], [t_wc])
    w.op(CONV_2D, [t_pad, t_wc, f("conv/b", bc)], [t_conv], O_CONV,
         conv_opts(VALID, 1, ACT_NONE))
    w.op(MUL, [t_conv, f("mul/c", mc)], [t_mul], O_MUL, [(0, "i8", ACT_NONE)])
    w.op(CONCATENATION, [t_conv, t_mul], [t_cat], O_CONCAT, [(0, "i32", -1), (1, "i8", ACT_NONE)])
    w.op(MAX_POOL_2D, [t_cat], [t_max], O_POOL, pool_opts(SAME, 2, 3))
    w.op(LOGISTIC, [t_max], [t_sig])
    w.op(MUL, [t_max, t_sig], [t_swish], O_MUL, [(0, "i8", ACT_NONE)])
    w.op(HARD_SWISH, [t_swish], [t_hs])
    w.op(AVERAGE_POOL_2D, [t_hs], [t_avg], O_POOL, pool_opts(SAME, 1, 2))
    w.op(RESHAPE, [t_avg, w.const("shape", np.array([1, 2, 3, 6]), INT32)], [t_rs], O_RESHAPE,
         [(0, "ivec", [1, 2, 3, 6])])
    w.op(FULLY_CONNECTED, [t_rs, f("fc/w", wf), f("fc/b", bf)], [t_fc], O_FC)
    w.op(RESHAPE, [t_fc, w.const("shape4", np.array([1, 1, 1, 7]), INT32)], [t_4d], O_RESHAPE)
    w.op(SQUEEZE, [t_4d], [t_out], O_SQUEEZE, [(0, "ivec", [1, 2])])

    xp = np.pad(x, ((0, 0), (1, 1), (0, 1), (0, 0)))
    c = ref_conv(xp, wc, bc, 1, VALID)
    cat = np.concatenate([c, c * mc], axis=3)
    m = ref_pool(cat, 3, 2, SAME, "max")
    h = hard_swish(m * sigmoid(m))
    a = ref_pool(h, 2, 1, SAME, "avg")
    y = a.reshape(1, 2, 3, 6).reshape(1, 36) @ wf.T + bf
    return w.build([t_x], [t_out]), x, y


def quantize(v, scale, zp, qmin, qmax, axis=None):
    """Per-tensor (axis None) or per-channel quantization of v."""
    if axis is not None:
        shape = [1] * v.ndim
        shape[axis] = -1
        scale = np.reshape(scale, shape)
        zp = np.reshape(zp, shape)
    return np.clip(np.round(v / scale) + zp, qmin, qmax)


def model_quant(rng):
    """uint8 input (scale 1/128, zero point 128, like MobileNet) -> QUANTIZE
    to int8 -> CONV_2D with per-channel int8 weights whose output range
    [0, 6] implies a ReLU6 -> DEPTHWISE_CONV_2D, per-channel along
    dimension 3, fused RELU -> ADD -> MEAN (keep_dims) -> FULLY_CONNECTED
    with uint8 weights (zero point 131) -> SOFTMAX -> DEQUANTIZE."""
    w = Writer()
    s_in = 1.0 / 128
    q_in = rng.integers(0, 256, (1, 8, 7, 3))
    x = s_in * (q_in - 128.0)

    def per_channel(v, axis):
        s = np.abs(v).max(axis=tuple(i for i in range(v.ndim) if i != axis)) / 127.0
        q = quantize(v, s, np.zeros_like(s), -127, 127, axis)
        return q, s

    spread = np.array([0.2, 0.5, 1.0, 1.5, 0.8, 0.3])[:, None, None, None]
    w0 = rng.standard_normal((6, 3, 3, 3)) * spread
    q0, s0 = per_channel(w0, 0)
    b0 = rng.standard_normal(6)
    qb0 = np.round(b0 / (s_in * s0))
    w1 = rng.standard_normal((1, 3, 3, 6)) * 0.4
    q1, s1 = per_channel(w1, 3)
    b1 = rng.standard_normal(6) * 0.5
    s_c0 = 6.0 / 255                                  # conv0 output: [0, 6], zp -128
    qb1 = np.round(b1 / (s_c0 * s1))
    w2 = rng.standard_normal((5, 6)) * 0.5
    s2 = (w2.max() - w2.min()) / 255
    q2 = quantize(w2, s2, 131, 0, 255)
    s_mean = 16.0 / 255
    b2 = rng.standard_normal(5) * 0.3
    qb2 = np.round(b2 / (s_mean * s2))

    t_x = w.tensor("input", [1, 8, 7, 3], UINT8, scale=s_in, zp=128)
    t_q = w.tensor("input_int8", [1, 8, 7, 3], INT8, scale=s_in, zp=0)
    t_c0 = w.tensor("conv0/BiasAdd", [1, 4, 4, 6], INT8, scale=s_c0, zp=-128)
    t_dw = w.tensor("dw1/Relu", [1, 4, 4, 6], INT8, scale=40.0 / 255, zp=-128)
    t_add = w.tensor("add", [1, 4, 4, 6], INT8, scale=0.25, zp=-100)
    t_mean = w.tensor("mean", [1, 1, 1, 6], INT8, scale=s_mean, zp=-128)
    t_fc = w.tensor("logits", [1, 5], INT8, scale=0.1, zp=0)
    t_sm = w.tensor("probs_int8", [1, 5], INT8, scale=1.0 / 256, zp=-128)
    t_out = w.tensor("probs", [1, 5], FLOAT32)
    w.op(QUANTIZE, [t_x], [t_q])
    w.op(CONV_2D, [t_q, w.const("conv0/w", q0, INT8, scale=s0, zp=np.zeros(6), qdim=0),
                   w.const("conv0/b", qb0, INT32, scale=s_in * s0, zp=np.zeros(6))],
         [t_c0], O_CONV, conv_opts(SAME, 2, ACT_NONE))
    w.op(DEPTHWISE_CONV_2D, [t_c0, w.const("dw1/w", q1, INT8, scale=s1, zp=np.zeros(6), qdim=3),
                             w.const("dw1/b", qb1, INT32, scale=s_c0 * s1, zp=np.zeros(6))],
         [t_dw], O_DWCONV, dw_opts(SAME, 1, 1, ACT_RELU))
    w.op(ADD, [t_c0, t_dw], [t_add], O_ADD, [(0, "i8", ACT_NONE)])
    w.op(MEAN, [t_add, w.const("axes", np.array([1, 2]), INT32)], [t_mean], O_REDUCER,
         [(0, "bool", True)])
    w.op(FULLY_CONNECTED, [t_mean, w.const("fc/w", q2, UINT8, scale=s2, zp=131),
                           w.const("fc/b", qb2, INT32, scale=s_mean * s2, zp=0)], [t_fc], O_FC)
    w.op(SOFTMAX, [t_fc], [t_sm], O_SOFTMAX, [(0, "f32", 1.0)])
    w.op(DEQUANTIZE, [t_sm], [t_out])

    # Float reference with the dequantized constants.
    dq0 = q0 * s0[:, None, None, None]
    dq1 = q1 * s1
    c0 = np.clip(ref_conv(x, dq0, qb0 * s_in * s0, 2, SAME), 0.0, 6.0)   # range-implied ReLU6
    d = np.maximum(ref_conv(c0, dq1, qb1 * s_c0 * s1, 1, SAME, depthwise=True), 0.0)
    a = (c0 + d).mean(axis=(1, 2))
    y = softmax(a @ ((q2 - 131) * s2).T + qb2 * s_mean * s2)
    return w.build([t_x], [t_out]), x, y


def model_refused(kind):
    w = Writer()
    ttype = INT16 if kind == "int16" else FLOAT32
    t_x = w.tensor("input", [1, 4, 4, 3], ttype)
    t_r = w.tensor("relu", [1, 4, 4, 3], ttype)
    t_y = w.tensor("output", [1, 4, 4, 3], ttype)
    w.op(RELU, [t_x], [t_r])
    if kind == "lstm":
        w.op(LSTM, [t_r], [t_y])
    elif kind == "custom":
        w.op(CUSTOM, [t_r], [t_y], custom="MyCustomOp")
    elif kind == "gelu":
        w.op(GELU, [t_r], [t_y])
    else:
        w.op(RELU, [t_r], [t_y])
    return w.build([t_x], [t_y])


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name)
                .SerializeToString())


def read_pb(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def main(argv):
    if len(argv) == 4 and argv[0] == "compare":
        got, want = read_pb(argv[1]), read_pb(argv[2])
        tol = float(argv[3])
        if got.size != want.size:
            print(f"compare: {got.shape} vs {want.shape}")
            return 1
        err = float(np.max(np.abs(got.reshape(-1) - want.reshape(-1))))
        print(f"compare: max |diff| {err:.3g} (tolerance {tol:g}) over {want.size} values")
        return 0 if err <= tol else 1
    makers = dict(float=model_float, layout=model_layout, quant=model_quant)
    if len(argv) == 2 and argv[0] in makers:
        rng = np.random.default_rng(7)
        data, x, y = makers[argv[0]](rng)
        with open(f"{argv[1]}/model.tflite", "wb") as f:
            f.write(data)
        write_pb(f"{argv[1]}/input.pb", x.transpose(0, 3, 1, 2), "input")
        write_pb(f"{argv[1]}/expected.pb", y, "output")
        return 0
    if len(argv) == 2 and argv[0] in ("lstm", "custom", "gelu", "int16"):
        with open(argv[1], "wb") as f:
            f.write(model_refused(argv[0]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
