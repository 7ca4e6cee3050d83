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

With "metric" the plane goes through Sigmoid and a Mul by 20, as Depth
Anything V2 metric's head (depth in metres, 0 to max_depth 20), and with
"inverse" through 3 * exp(-v) + 1 instead: 20 / depth is 1 + exp(-v), so
that output is the same scene's relative inverse depth (affine in 1 /
depth). "metric-zero" scales the Conv so that the sigmoid underflows to 0
for dark pixels; "metric-allzero" so that it does for every pixel.

Forms for `depthindex model`'s preset guess (tests/cli/model_guess_test.py):
"opset9" (SIZE fixed, opset 9), "patch16" (a 16x16 patch embedding),
"patch-metric" (the patch model's plane through Sigmoid, Mul by a
max_depth initializer and Squeeze, as the onnx-community metric exports end),
"patch-metric-const" (the Mul's constant first, from a Constant node),
"patch-sigmoid-square" (Sigmoid times itself: no constant, not metric).

usage: tiny_onnx.py OUT.onnx [SIZE] [MODE]"""
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


def model(size, nan=False, opset=13):
    graph = f_bytes(1, node("Conv", ["input", "w", "b"], ["pre" if nan else "depth"], "conv",
                            [ints_attribute("kernel_shape", [1, 1])]))
    if nan:
        graph += f_bytes(1, node("Sqrt", ["pre"], ["depth"], "sqrt"))
    graph += f_bytes(2, "tiny_depth")
    graph += f_bytes(5, tensor("w", [1, 3, 1, 1], [0.3, 0.5, 0.2]))
    graph += f_bytes(5, tensor("b", [1], [0.0 if nan else 10.0]))
    graph += f_bytes(11, value_info("input", ["N", 3, size, size]))
    graph += f_bytes(12, value_info("depth", ["N", 1, size, size]))
    opset = f_bytes(1, "") + f_varint(2, opset)
    # ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8
    return f_varint(1, 8) + f_bytes(2, "depthindex-tests") + f_bytes(7, graph) + f_bytes(8, opset)


def scalar_tensor(name, value):
    # a 0-d float tensor (no dims)
    return f_varint(2, 1) + f_bytes(8, name) + f_bytes(9, struct.pack("<f", value))


def tensor_attribute(name, body):
    # AttributeProto{name=1, t=5, type=20 (TENSOR=4)}
    return f_bytes(1, name) + f_bytes(5, body) + f_varint(20, 4)


def finish(g, opset=13):
    opset_import = f_bytes(1, "") + f_varint(2, opset)
    return (f_varint(1, 8 if opset >= 13 else 4) + f_bytes(2, "depthindex-tests") +
            f_bytes(7, g) + f_bytes(8, opset_import))


def head_model(size, mode):
    """The 1x1 Conv of model() (fixed size) with a metric or inverse head."""
    scale, bias = {"metric": (1.0, 0.5), "inverse": (1.0, 0.5), "metric-zero": (100.0, 0.0),
                   "metric-allzero": (1.0, -1000.0)}[mode]
    g = f_bytes(1, node("Conv", ["input", "w", "b"], ["v"], "conv",
                        [ints_attribute("kernel_shape", [1, 1])]))
    if mode == "inverse":
        g += f_bytes(1, node("Neg", ["v"], ["nv"], "neg"))
        g += f_bytes(1, node("Exp", ["nv"], ["e"], "exp"))
        g += f_bytes(1, node("Mul", ["e", "three"], ["e3"], "mul"))
        g += f_bytes(1, node("Add", ["e3", "one"], ["depth"], "add"))
    else:
        g += f_bytes(1, node("Sigmoid", ["v"], ["s"], "sigmoid"))
        g += f_bytes(1, node("Mul", ["s", "max_depth"], ["depth"], "mul"))
    g += f_bytes(2, "tiny_" + mode)
    g += f_bytes(5, tensor("w", [1, 3, 1, 1], [0.3 * scale, 0.5 * scale, 0.2 * scale]))
    g += f_bytes(5, tensor("b", [1], [bias]))
    g += f_bytes(5, scalar_tensor("max_depth", 20.0))
    g += f_bytes(5, scalar_tensor("three", 3.0))
    g += f_bytes(5, scalar_tensor("one", 1.0))
    g += f_bytes(11, value_info("input", ["N", 3, size, size]))
    g += f_bytes(12, value_info("depth", ["N", 1, size, size]))
    return finish(g)


def patch_model(patch=14, tail=""):
    g = f_bytes(1, node("Conv", ["input", "w", "b"], ["lo"], "patch_embed",
                        [ints_attribute("kernel_shape", [patch, patch]),
                         ints_attribute("strides", [patch, patch])]))
    g += f_bytes(1, node("Shape", ["lo"], ["lo_shape"], "lo_shape"))
    g += f_bytes(1, node("Slice", ["lo_shape", "i0", "i2"], ["nc"], "nc"))
    g += f_bytes(1, node("Shape", ["input"], ["in_shape"], "in_shape"))
    g += f_bytes(1, node("Slice", ["in_shape", "i2", "i4"], ["hw"], "hw"))
    g += f_bytes(1, node("Concat", ["nc", "hw"], ["sizes"], "sizes", [int_attribute("axis", 0)]))
    g += f_bytes(1, node("Resize", ["lo", "", "", "sizes"], ["up" if tail else "depth"], "up",
                         [string_attribute("mode", "linear")]))
    out = ["N", 1, "height", "width"]
    if tail == "patch-metric":  # Sigmoid, Mul by max_depth, Squeeze
        g += f_bytes(1, node("Sigmoid", ["up"], ["s"], "sigmoid"))
        g += f_bytes(1, node("Mul", ["s", "max_depth"], ["m"], "mul"))
        g += f_bytes(1, node("Squeeze", ["m", "i1"], ["depth"], "squeeze"))
        out = ["N", "height", "width"]
    elif tail == "patch-metric-const":  # Mul(Constant, Sigmoid)
        g += f_bytes(1, node("Sigmoid", ["up"], ["s"], "sigmoid"))
        g += f_bytes(1, node("Constant", [], ["c"], "max_depth_const",
                             [tensor_attribute("value", scalar_tensor("c", 80.0))]))
        g += f_bytes(1, node("Mul", ["c", "s"], ["depth"], "mul"))
    elif tail == "patch-sigmoid-square":  # no constant: not a metric head
        g += f_bytes(1, node("Sigmoid", ["up"], ["s"], "sigmoid"))
        g += f_bytes(1, node("Mul", ["s", "s"], ["depth"], "mul"))
    g += f_bytes(2, "tiny_patch_depth")
    w = [(0.3, 0.5, 0.2)[c] / (patch * patch) * (1 + ((y * patch + x) % 7) / 7.0)
         for c in range(3) for y in range(patch) for x in range(patch)]
    g += f_bytes(5, tensor("w", [1, 3, patch, patch], w))
    g += f_bytes(5, tensor("b", [1], [10.0]))
    for name, v in (("i0", 0), ("i1", 1), ("i2", 2), ("i4", 4)):
        g += f_bytes(5, tensor_i64(name, [v]))
    g += f_bytes(5, scalar_tensor("max_depth", 20.0))
    g += f_bytes(11, value_info("input", ["N", 3, "height", "width"]))
    g += f_bytes(12, value_info("depth", out))
    return finish(g)


if __name__ == "__main__":
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    if mode == "patch":
        data = patch_model()
    elif mode == "patch16":
        data = patch_model(16)
    elif mode.startswith("patch-"):
        data = patch_model(14, mode)
    elif mode in ("metric", "inverse", "metric-zero", "metric-allzero"):
        data = head_model(size, mode)
    elif mode == "opset9":
        data = model(size, opset=9)
    else:
        data = model(size, mode == "nan")
    with open(sys.argv[1], "wb") as f:
        f.write(data)
