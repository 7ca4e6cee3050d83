#!/usr/bin/env python3
"""bf16_train.py: trains a model file's own graph briefly, for nn-bf16's
fidelity check on trained weights (issue 15, README "bf16 on the CPU").

Generated weights are a poor stand-in for trained ones (the output head
amplifies the differences bf16 makes; a trained network makes smooth maps), and
trained weights cannot be downloaded here. So the real graph is trained: the
ONNX file's nodes are executed by a small torch Module whose parameters are the
file's float initializers (as the engine's own fill wrote them: the scaled
weights of src/nn/fill_scale.c), on demo faces whose depth the demo rendered
(tests/nn/bf16_train_data.c), at a lower resolution than the file's (the
graphs are convolutional; a Resize given by sizes is scaled with the input),
for a fixed number of steps from fixed seeds on one thread. The weights are
written back into a copy of the file, which keeps its own input size.

usage: bf16_train.py IN.onnx OUT.onnx DATA_DIR SIZE STEPS [LOG]
       bf16_train.py --round IN.onnx OUT.onnx   (weights rounded to bf16)
       bf16_train.py --bias-correct IN.onnx OUT.onnx DATA_DIR SIZE
       bf16_train.py --check IN.onnx DATA_DIR SIZE PREFIX  (the executor's
           output on the first face: PREFIX-in.npy, PREFIX-out.npy)
  DATA_DIR holds rgb.u8 and depth.f32 (bf16_train_data faces DIR SIZE ...).
  The target is inverse depth (10 m / depth: the sky near 0), as MiDaS's
  output is, regressed up to scale and shift per face (MiDaS's own loss).
Exit 0 with the file written; 2 on a missing module (torch, onnx): the caller
skips.
"""
import os
import sys

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn.functional as F
    from onnx import numpy_helper
except ImportError as e:  # the test skips (or fails where oracles are required)
    print(f"bf16_train.py: {e.name} is not installed (Debian: python3-torch, python3-onnx)")
    sys.exit(2)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _slice(ins, a):
    x, starts, ends = ins[0], ins[1].tolist(), ins[2].tolist()
    axes = ins[3].tolist() if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = ins[4].tolist() if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    idx = [slice(None)] * x.dim()
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        d = x.shape[ax]
        st = max(0, min(d, st + d if st < 0 else st))
        en = max(0, min(d, en + d if en < 0 else en))
        idx[ax] = slice(st, en, sp)
    return x[tuple(idx)]


def _reshape(ins, a):
    shape = [int(v) for v in ins[1].tolist()]
    shape = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return ins[0].reshape(shape)


def _unsqueeze(ins, a):
    y = ins[0]
    axes = [int(v) for v in (ins[1].tolist() if len(ins) > 1 else a["axes"])]
    for ax in sorted(ax % (y.dim() + len(axes)) for ax in axes):
        y = y.unsqueeze(ax)
    return y


def _layernorm(ins, a):
    axis = a.get("axis", -1) % ins[0].dim()
    shape = ins[0].shape[axis:]
    return F.layer_norm(ins[0], shape, ins[1], ins[2] if len(ins) > 2 else None, a.get("epsilon", 1e-5))


def _convt(ins, a):
    p = a.get("pads", [0, 0, 0, 0])
    assert p[0] == p[2] and p[1] == p[3]
    return F.conv_transpose2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]),
                              padding=(p[0], p[1]), groups=a.get("group", 1))


# ops of one line (the ViT form's shape arithmetic, attention and GELU)
SIMPLE = {
    "Shape": lambda i, a: torch.tensor(list(i[0].shape), dtype=torch.int64),
    "Gather": lambda i, a: torch.index_select(i[0], a.get("axis", 0) % i[0].dim(), i[1].reshape(-1)).reshape(
        i[0].shape[:a.get("axis", 0) % i[0].dim()] + i[1].shape + i[0].shape[a.get("axis", 0) % i[0].dim() + 1:]),
    "Unsqueeze": _unsqueeze,
    "Concat": lambda i, a: torch.cat(i, a["axis"]),
    "Reshape": _reshape,
    "Transpose": lambda i, a: i[0].permute(a["perm"]),
    "ConstantOfShape": lambda i, a: torch.full([int(v) for v in i[0].tolist()],
                                               float(numpy_helper.to_array(a["value"])[0]) if "value" in a else 0.0,
                                               dtype=torch.from_numpy(numpy_helper.to_array(a["value"]).copy()).dtype
                                               if "value" in a else torch.float32),
    "Equal": lambda i, a: i[0] == i[1],
    "Where": lambda i, a: torch.where(i[0], i[1], i[2]),
    "Expand": lambda i, a: i[0] * torch.ones([int(v) for v in i[1].tolist()], dtype=i[0].dtype),
    "LayerNormalization": _layernorm,
    "MatMul": lambda i, a: torch.matmul(i[0], i[1]),
    "Mul": lambda i, a: i[0] * i[1],
    "Div": lambda i, a: i[0] / i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Pow": lambda i, a: i[0] ** i[1],
    "Sqrt": lambda i, a: torch.sqrt(i[0]),
    "Erf": lambda i, a: torch.erf(i[0]),
    "Softmax": lambda i, a: torch.softmax(i[0], a.get("axis", -1)),
    "ReduceMean": lambda i, a: i[0].mean(dim=a.get("axes") or [int(v) for v in i[1].tolist()],
                                         keepdim=bool(a.get("keepdims", 1))),
    "Slice": _slice,
    "ConvTranspose": _convt,
    "Identity": lambda i, a: i[0],
    "Cast": lambda i, a: i[0].to({1: torch.float32, 7: torch.int64, 9: torch.bool}[a["to"]]),
}


class Graph(torch.nn.Module):
    """Runs the graph's nodes in file order (ONNX files are topologically sorted)."""

    def __init__(self, model):
        super().__init__()
        self.nodes = list(model.graph.node)
        self.input = model.graph.input[0].name
        self.output = model.graph.output[0].name
        self.params = torch.nn.ParameterDict()
        self.consts = {}
        self.key = {}
        # the weights trained: float tensors (not scalars) that only
        # arithmetic reads (weights, biases, norms' scales, layer scales,
        # tokens); Resize's scales and the like stay constants
        arith = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Mul", "LayerNormalization", "Expand", "Concat"}
        kinds = {}
        for n in self.nodes:
            for i in n.input:
                kinds.setdefault(i, set()).add(n.op_type)
        for i, t in enumerate(model.graph.initializer):
            a = numpy_helper.to_array(t).copy()
            if a.dtype == np.float32 and a.size > 1 and kinds.get(t.name, {"none"}) <= arith:
                k = f"p{i}"
                self.key[t.name] = k
                self.params[k] = torch.nn.Parameter(torch.from_numpy(a))
            else:
                self.consts[t.name] = torch.from_numpy(a)
        shape = model.graph.input[0].type.tensor_type.shape.dim
        self.file_size = shape[-1].dim_value

    def value(self, env, name):
        if name in self.key:
            return self.params[self.key[name]]
        if name in self.consts:
            return self.consts[name]
        return env[name]

    def forward(self, x):
        env = {self.input: x}
        ratio = x.shape[-1] / self.file_size
        for n in self.nodes:
            ins = [self.value(env, i) if i else None for i in n.input]
            a = attrs(n)
            op = n.op_type
            if op == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                x0 = ins[0]
                if p[0] != p[2] or p[1] != p[3]:
                    x0 = F.pad(x0, (p[1], p[3], p[0], p[2]))
                    p = [0, 0, 0, 0]
                y = F.conv2d(x0, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]),
                             padding=(p[0], p[1]), dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
            elif op == "Clip":
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
                y = torch.clamp(ins[0], float(lo) if lo is not None else None, float(hi) if hi is not None else None)
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Squeeze":
                axes = [int(v) for v in (ins[1].tolist() if len(ins) > 1 else a["axes"])]
                y = ins[0]
                for ax in sorted(axes, reverse=True):
                    y = y.squeeze(ax)
            elif op in SIMPLE:
                y = SIMPLE[op](ins, a)
            elif op == "Resize":
                ct = a.get("coordinate_transformation_mode", b"half_pixel").decode()
                assert a.get("mode", b"nearest").decode() == "linear", n.name
                assert ct in ("align_corners", "pytorch_half_pixel", "half_pixel"), ct
                if len(ins) > 3 and ins[3] is not None and ins[3].numel():
                    # sizes: fixed in the file (scaled with the input) or computed from shapes
                    r = ratio if n.input[3] in self.consts else 1
                    size = [max(1, int(round(int(v) * r))) for v in ins[3].tolist()[2:]]
                else:
                    sc = ins[2].tolist()[2:]
                    size = [int(ins[0].shape[2] * sc[0]), int(ins[0].shape[3] * sc[1])]
                y = F.interpolate(ins[0], size=size, mode="bilinear", align_corners=ct == "align_corners")
            else:
                raise SystemExit(f"bf16_train.py: {n.op_type} ({n.name}) is not supported")
            env[n.output[0]] = y
        return env[self.output]


def round_weights(src, dst):
    """A copy whose weights that bf16 kernels read (Conv's and MatMul's and
    Gemm's second input) are rounded to bf16, to nearest even, as the engine
    rounds them; biases stay float32 (the engine's are)."""
    model = onnx.load(src)
    weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")}
    for t in model.graph.initializer:
        if t.name in weights and t.data_type == onnx.TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(to_bf16(numpy_helper.to_array(t)), t.name))
    onnx.save(model, dst)
    return 0


def to_bf16(w):
    """float32 rounded to bf16, to nearest even, as float32"""
    u = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def faces_input(data, size):
    rgb = np.fromfile(f"{data}/rgb.u8", dtype=np.uint8).reshape(-1, size, size, 3)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    sd = np.array([0.229, 0.224, 0.225], np.float32)
    return torch.from_numpy(((rgb.astype(np.float32) / 255 - mean) / sd).transpose(0, 3, 1, 2).copy())


def bias_correct(src, dst, data, size):
    """A copy whose Conv biases absorb the mean shift that rounding the
    weights to bf16 makes (bias correction, Nagel et al. 2019): b -= sum over
    the kernel of (bf16(w) - w) * the input channel's mean on DATA's faces.
    Run in bf16 against the original in fp32, it tells whether the output's
    offset or its noise moves the score."""
    model = onnx.load(src)
    net = Graph(model)
    means, conv2d = {}, F.conv2d

    def record(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        means.setdefault(w.data_ptr(), []).append(x.mean((0, 2, 3)).detach())
        return conv2d(x, w, b, stride, padding, dilation, groups)

    F.conv2d = record
    with torch.no_grad():
        net(faces_input(data, size))
    F.conv2d = conv2d
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        w = net.params[net.key[n.input[1]]].detach().numpy()
        mu = torch.stack(means[net.params[net.key[n.input[1]]].data_ptr()]).mean(0).numpy().astype(np.float64)
        dw = (to_bf16(w).astype(np.float64) - w).sum((2, 3))
        oc, icg = dw.shape
        groups = mu.size // icg
        ocg = oc // groups
        db = np.concatenate([dw[g * ocg:(g + 1) * ocg] @ mu[g * icg:(g + 1) * icg] for g in range(groups)])
        if len(n.input) < 3 or not n.input[2]:  # a Conv without bias gets one
            model.graph.initializer.append(numpy_helper.from_array(np.zeros(oc, np.float32), n.input[1] + ".bias"))
            if len(n.input) < 3:
                n.input.append(n.input[1] + ".bias")
            else:
                n.input[2] = n.input[1] + ".bias"
            t = model.graph.initializer[-1]
        else:
            t = inits[n.input[2]]
        b = numpy_helper.to_array(t).astype(np.float64) - db
        t.CopyFrom(numpy_helper.from_array(b.astype(np.float32), t.name))
    onnx.save(model, dst)
    return 0


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 4 and sys.argv[1] == "--round":
        return round_weights(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 6 and sys.argv[1] == "--bias-correct":
        return bias_correct(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    if len(sys.argv) == 6 and sys.argv[1] == "--check":
        # the first face through this executor: PREFIX-in.npy and
        # PREFIX-out.npy, for the engine to reproduce (nn-bf16-train)
        net = Graph(onnx.load(sys.argv[2]))
        x = faces_input(sys.argv[3], int(sys.argv[4]))[:1]
        with torch.no_grad():
            y = net(x)
        np.save(sys.argv[5] + "-in.npy", x.numpy())
        np.save(sys.argv[5] + "-out.npy", y.numpy())
        return 0
    if len(sys.argv) < 6:
        print(__doc__)
        return 2
    src, dst, data, size, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    log = open(sys.argv[6], "w") if len(sys.argv) > 6 else sys.stdout
    torch.manual_seed(15)
    model = onnx.load(src)
    net = Graph(model)
    depth = np.fromfile(f"{data}/depth.f32", dtype=np.float32).reshape(-1, size, size)
    xs = faces_input(data, size)
    ts = torch.from_numpy(10.0 / np.maximum(depth, 1e-3))
    opt = torch.optim.Adam(net.parameters(), lr=float(os.environ.get("DI_TRAIN_LR", "1e-4")))
    batch = int(os.environ.get("DI_TRAIN_BATCH", "4"))
    # DI_TRAIN_SAVE=25,50,...: also OUT-stepN.onnx after those steps (fidelity against training)
    save_at = {int(v) for v in os.environ.get("DI_TRAIN_SAVE", "").split(",") if v}
    g = torch.Generator().manual_seed(15)
    for step in range(steps):
        idx = torch.randint(0, xs.shape[0], (batch,), generator=g)
        x, t = xs[idx], ts[idx]
        if torch.rand(1, generator=g).item() < 0.5:  # mirror: more scenes for the same renders
            x, t = x.flip(-1), t.flip(-1)
        y = net(x).reshape(batch, -1)
        t = t.reshape(batch, -1)
        # scale and shift per face fitted by least squares, then the mean
        # absolute residual over the target's spread (MiDaS's invariant loss)
        ym, tm = y.mean(1, keepdim=True), t.mean(1, keepdim=True)
        yc, tc = y - ym, t - tm
        s = (yc * tc).sum(1, keepdim=True) / (yc * yc).sum(1, keepdim=True).clamp_min(1e-6)
        fit = (s.detach() * yc + tm)
        spread = tc.abs().mean(1, keepdim=True).clamp_min(1e-6)
        loss = ((fit - t).abs() / spread).mean() + 1e-3 * ((y - t) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.4f} output mean {y.mean().item():.3g} sd {y.std().item():.3g}",
                  file=log, flush=True)
        if step + 1 in save_at and step + 1 < steps:
            write(model, net, f"{dst[:-5] if dst.endswith('.onnx') else dst}-step{step + 1}.onnx")
    write(model, net, dst)
    return 0


def write(model, net, path):
    for t in model.graph.initializer:
        if t.name in net.key:
            a = net.params[net.key[t.name]].detach().numpy().astype(np.float32)
            t.CopyFrom(numpy_helper.from_array(a, t.name))
    onnx.save(model, path)


if __name__ == "__main__":
    sys.exit(main())
