#!/usr/bin/python3
"""Writes a tiny real ONNX model for the pipeline tests: a 1x1 Conv turning an
RGB image (N x 3 x H x W, symbolic batch) into one plane (N x 1 x H x W), a
fake "depth" that follows the picture's brightness. Encoded here with the
protobuf wire format (no onnx Python package on Debian), so the pipeline's
model path (JPEG decode, batching, engine, resize) runs in milliseconds.

With "nan" the plane goes through Sqrt and the bias is 0: dark pixels give
NaN, so faces fail after inference (the --save-maps failure panels).

With "patch" the height and width are symbolic, as in Depth Anything's
onnx-community files: a 14x14 stride-14 Conv (a ViT's patch embedding) and a
bilinear Resize back to the input's size, taken from its Shape at run time.

usage: tiny_onnx.py OUT.onnx [SIZE] [nan|patch]"""
import struct
import sys


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return key(field, 0) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def tensor(name, dims, values):
    # TensorProto: dims=1, data_type=2 (FLOAT=1), name=8, raw_data=9
    body = b"".join(f_varint(1, d) for d in dims)
    body += f_varint(2, 1) + f_bytes(8, name)
    body += f_bytes(9, struct.pack("<%df" % len(values), *values))
    return body


def tensor_i64(name, values):
    # TensorProto: dims=1, data_type=2 (INT64=7), name=8, raw_data=9
    body = f_varint(1, len(values)) + f_varint(2, 7) + f_bytes(8, name)
    return body + f_bytes(9, struct.pack("<%dq" % len(values), *values))


def int_attribute(name, value):
    # AttributeProto{name=1, i=3, type=20 (INT=2)}
    return f_bytes(1, name) + f_varint(3, value) + f_varint(20, 2)


def string_attribute(name, value):
    # AttributeProto{name=1, s=4, type=20 (STRING=3)}
    return f_bytes(1, name) + f_bytes(4, value) + f_varint(20, 3)


def value_info(name, dims):
    # ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1}}}}
    shape = b""
    for d in dims:
        dim = f_bytes(2, d) if isinstance(d, str) else f_varint(1, d)
        shape += f_bytes(1, dim)
    tt = f_varint(1, 1) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tt))


def ints_attribute(name, values):
    # AttributeProto{name=1, ints=8, type=20 (INTS=7)}
    return f_bytes(1, name) + b"".join(f_varint(8, v) for v in values) + f_varint(20, 7)


def node(op, inputs, outputs, name, attributes=()):
    body = b"".join(f_bytes(1, i) for i in inputs)
    body += b"".join(f_bytes(2, o) for o in outputs)
    body += f_bytes(3, name) + f_bytes(4, op)
    return body + b"".join(f_bytes(5, a) for a in attributes)


def model(size, nan=False):
    graph = f_bytes(1, node("Conv", ["input", "w", "b"], ["pre" if nan else "depth"], "conv",
                            [ints_attribute("kernel_shape", [1, 1])]))
    if nan:
        graph += f_bytes(1, node("Sqrt", ["pre"], ["depth"], "sqrt"))
    graph += f_bytes(2, "tiny_depth")
    graph += f_bytes(5, tensor("w", [1, 3, 1, 1], [0.3, 0.5, 0.2]))
    graph += f_bytes(5, tensor("b", [1], [0.0 if nan else 10.0]))
    graph += f_bytes(11, value_info("input", ["N", 3, size, size]))
    graph += f_bytes(12, value_info("depth", ["N", 1, size, size]))
    opset = f_bytes(1, "") + f_varint(2, 13)
    # ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8
    return f_varint(1, 8) + f_bytes(2, "depthindex-tests") + f_bytes(7, graph) + f_bytes(8, opset)


def patch_model():
    g = f_bytes(1, node("Conv", ["input", "w", "b"], ["lo"], "patch_embed",
                        [ints_attribute("kernel_shape", [14, 14]), ints_attribute("strides", [14, 14])]))
    g += f_bytes(1, node("Shape", ["lo"], ["lo_shape"], "lo_shape"))
    g += f_bytes(1, node("Slice", ["lo_shape", "i0", "i2"], ["nc"], "nc"))
    g += f_bytes(1, node("Shape", ["input"], ["in_shape"], "in_shape"))
    g += f_bytes(1, node("Slice", ["in_shape", "i2", "i4"], ["hw"], "hw"))
    g += f_bytes(1, node("Concat", ["nc", "hw"], ["sizes"], "sizes", [int_attribute("axis", 0)]))
    g += f_bytes(1, node("Resize", ["lo", "", "", "sizes"], ["depth"], "up",
                         [string_attribute("mode", "linear")]))
    g += f_bytes(2, "tiny_patch_depth")
    w = [(0.3, 0.5, 0.2)[c] / 196.0 * (1 + ((y * 14 + x) % 7) / 7.0)
         for c in range(3) for y in range(14) for x in range(14)]
    g += f_bytes(5, tensor("w", [1, 3, 14, 14], w))
    g += f_bytes(5, tensor("b", [1], [10.0]))
    for name, v in (("i0", 0), ("i2", 2), ("i4", 4)):
        g += f_bytes(5, tensor_i64(name, [v]))
    g += f_bytes(11, value_info("input", ["N", 3, "height", "width"]))
    g += f_bytes(12, value_info("depth", ["N", 1, "height", "width"]))
    opset = f_bytes(1, "") + f_varint(2, 13)
    return f_varint(1, 8) + f_bytes(2, "depthindex-tests") + f_bytes(7, g) + f_bytes(8, opset)


if __name__ == "__main__":
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    with open(sys.argv[1], "wb") as f:
        f.write(patch_model() if mode == "patch" else model(size, mode == "nan"))
