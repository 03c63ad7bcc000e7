#!/usr/bin/python3
"""Write a chain model of N nodes: X [1, C] -> Add(b) -> Relu -> Add(b) -> ...
-> Y, for the loader's scaling test and bench/loader/run.sh.

The protobuf is encoded here field by field instead of through the onnx
package: building a million NodeProto objects in Python takes minutes, the
bytes take seconds. usage: make_chain.py N OUT.onnx [C]"""
import struct
import sys


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):  # length-delimited field
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def vfield(num, v):  # varint field
    return varint(num << 3) + varint(v)


def value_info(name, dims):
    shape = b"".join(field(1, vfield(1, d)) for d in dims)          # Dimension.dim_value
    tensor = vfield(1, 1) + field(2, shape)                          # elem_type FLOAT, shape
    return field(1, name.encode()) + field(2, field(1, tensor))     # name, TypeProto.tensor_type


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    c = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    parts = []
    bias = struct.pack("<%df" % c, *([0.001] * c))
    init = vfield(1, 1) + vfield(1, c) + vfield(2, 1) + field(8, b"b") + field(9, bias)
    prev = "X"
    for i in range(n):
        name = "Y" if i == n - 1 else "t%d" % i
        if i % 2 == 0:
            node = field(1, prev.encode()) + field(1, b"b") + field(2, name.encode()) + \
                field(3, b"add%d" % i) + field(4, b"Add")
        else:
            node = field(1, prev.encode()) + field(2, name.encode()) + \
                field(3, b"relu%d" % i) + field(4, b"Relu")
        parts.append(field(1, node))
        prev = name
    graph = b"".join(parts) + field(2, b"chain") + field(5, init) + \
        field(11, value_info("X", [1, c])) + field(12, value_info("Y", [1, c]))
    model = vfield(1, 8) + field(2, b"make_chain.py") + field(7, graph) + \
        field(8, field(1, b"") + vfield(2, 13))
    with open(out, "wb") as f:
        f.write(model)


if __name__ == "__main__":
    main()
