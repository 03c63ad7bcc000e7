#!/bin/sh
# Strict model loading: every broken-model case the ONNX spec rules out is
# a clear error naming the node (or tensor) and the field, exit 1 from
# `jalad info` and `jalad run`. The bad models are built here, from one
# valid Conv model, with the onnx Python package.
set -u
JALAD=${JALAD:-build/jalad}
. "$(dirname "$0")/../integration_lib.sh"

if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
	echo "strict: skipped, no onnx Python package (apt-get install python3-onnx)"
	echo "0 passed, 0 failed"
	exit 0
fi

/usr/bin/python3 - "$tmp" <<'PY'
import struct, sys
from onnx import helper, TensorProto

out = sys.argv[1]
F = TensorProto.FLOAT

def weights(name="W", n=9, dims=(1, 1, 3, 3)):
    # By hand: helper.make_tensor refuses a count that does not match.
    t = TensorProto(name=name, data_type=F, dims=list(dims))
    t.float_data.extend([0.1] * n)
    return t

def model(inputs=None, outputs=None, inits=None, nodes=None, conv_attrs=None):
    if conv_attrs is None:
        conv_attrs = [helper.make_attribute("kernel_shape", [3, 3]),
                      helper.make_attribute("pads", [1, 1, 1, 1])]
    if nodes is None:
        conv = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv1")
        conv.attribute.extend(conv_attrs)
        nodes = [conv]
    g = helper.make_graph(
        nodes, "strict",
        inputs if inputs is not None else [helper.make_tensor_value_info("X", F, [1, 1, 4, 4])],
        outputs if outputs is not None else [helper.make_tensor_value_info("Y", F, [1, 1, 4, 4])],
        inits if inits is not None else [weights()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])

def save(name, m):
    with open("%s/%s.onnx" % (out, name), "wb") as f:
        f.write(m.SerializeToString())

X = helper.make_tensor_value_info
save("good", model())
save("neg_dim", model(inputs=[X("X", F, [1, -3, 4, 4])]))
save("dup_attr", model(conv_attrs=[helper.make_attribute("kernel_shape", [3, 3]),
                                   helper.make_attribute("pads", [1, 1, 1, 1]),
                                   helper.make_attribute("pads", [0, 0, 0, 0])]))
save("attr_float", model(conv_attrs=[helper.make_attribute("kernel_shape", 3.0),
                                     helper.make_attribute("pads", [1, 1, 1, 1])]))
bad = helper.make_attribute("pads", [1, 1, 1, 1])
bad.floats.extend([1.0, 2.0])  # INTS, but floats set too
save("attr_payload", model(conv_attrs=[helper.make_attribute("kernel_shape", [3, 3]), bad]))
w = weights()
w.raw_data = struct.pack("<9f", *([0.1] * 9))  # float_data stays set
save("raw_and_float", model(inits=[w]))
save("short_data", model(inits=[weights(n=8)]))
w = TensorProto(name="W", data_type=F, dims=[1, 1, 3, 3], raw_data=struct.pack("<8f", *([0.1] * 8)))
save("short_raw", model(inits=[w]))
w = weights()
w.int64_data.extend([1, 2])
save("wrong_field", model(inits=[w]))
save("dup_init", model(inits=[weights(), weights()]))
save("dup_input", model(inputs=[X("X", F, [1, 1, 4, 4]), X("X", F, [1, 1, 4, 4])]))
save("dup_output", model(outputs=[X("Y", F, [1, 1, 4, 4]), X("Y", F, [1, 1, 4, 4])]))
save("init_overflow", model(inits=[weights(n=0, dims=(1 << 31, 1 << 31, 1 << 31))]))
save("input_overflow", model(inputs=[X("X", F, [1 << 20, 1 << 20, 1 << 20, 1])]))
conv = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
relu = helper.make_node("Relu", ["Y"], ["X"], name="relu_to_input")
save("output_is_input", model(nodes=[conv, relu]))
relu = helper.make_node("Relu", ["X"], ["Y"], name="relu_again")
save("dup_producer", model(nodes=[conv, relu]))
relu = helper.make_node("Relu", ["Y"], ["Z", "Z"], name="relu_twice")
save("dup_node_output", model(nodes=[conv, relu]))
PY
[ $? -eq 0 ] || bad "building the bad models"

# The valid model loads and runs: the checks below fail on the defect only.
expect 0 "" "$JALAD" info "$tmp/good.onnx"
expect 0 "" "$JALAD" run "$tmp/good.onnx" --repeat 1
# A negative input dimension was taken as 1.
expect 1 "graph input 'X': dim 1 is -3" "$JALAD" info "$tmp/neg_dim.onnx"
expect 1 "graph input 'X': dim 1 is -3" "$JALAD" run "$tmp/neg_dim.onnx"
# A duplicated attribute: the first one won.
expect 1 "node 'conv1' \(Conv\): attribute 'pads' is given twice" "$JALAD" info "$tmp/dup_attr.onnx"
expect 1 "node 'conv1' \(Conv\): attribute 'pads' is given twice" "$JALAD" run "$tmp/dup_attr.onnx"
# kernel_shape as FLOAT was ignored (the kernel came from W).
expect 1 "node 'conv1' \(Conv\): attribute 'kernel_shape' is FLOAT, the operator takes INTS" \
	"$JALAD" info "$tmp/attr_float.onnx"
expect 1 "attribute 'kernel_shape' is FLOAT" "$JALAD" run "$tmp/attr_float.onnx"
expect 1 "node 'conv1' \(Conv\): attribute 'pads' is declared INTS but sets field 'floats'" \
	"$JALAD" info "$tmp/attr_payload.onnx"
# raw_data and float_data both set loaded (raw_data won).
expect 1 "tensor 'W': has both raw_data and float_data" "$JALAD" info "$tmp/raw_and_float.onnx"
expect 1 "tensor 'W': has both raw_data and float_data" "$JALAD" run "$tmp/raw_and_float.onnx"
expect 1 "tensor 'W': dtype float32 has values in int64_data" "$JALAD" info "$tmp/wrong_field.onnx"
# Data length against dims.
expect 1 "tensor 'W': has 8 values, its shape needs 9" "$JALAD" info "$tmp/short_data.onnx"
expect 1 "tensor 'W': raw_data has 32 bytes, its shape needs 36" "$JALAD" info "$tmp/short_raw.onnx"
# Names are unique in a graph.
expect 1 "initializer 'W' is given twice" "$JALAD" info "$tmp/dup_init.onnx"
expect 1 "graph input 'X' is listed twice" "$JALAD" info "$tmp/dup_input.onnx"
expect 1 "graph output 'Y' is listed twice" "$JALAD" info "$tmp/dup_output.onnx"
expect 1 "node 'relu_to_input' \(Relu\): output 'X' is also a graph input" "$JALAD" info "$tmp/output_is_input.onnx"
expect 1 "node 'relu_again' \(Relu\): output 'Y' is also produced by node 'conv1'" \
	"$JALAD" info "$tmp/dup_producer.onnx"
expect 1 "node 'relu_twice' \(Relu\): output 'Z' is also produced by node 'relu_twice'" \
	"$JALAD" info "$tmp/dup_node_output.onnx"
# Sizes that overflow.
expect 1 "tensor 'W': size overflows" "$JALAD" info "$tmp/init_overflow.onnx"
expect 1 "graph input 'X': its shape has more than 2\^40 elements" "$JALAD" info "$tmp/input_overflow.onnx"

echo "strict: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
