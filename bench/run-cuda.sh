#!/usr/bin/env bash
# The CUDA backend on a GPU (issue 5): engine throughput on the MiDaS v2.1
# small architecture at 256x256 (project's filled weights) and on a Depth
# Anything V2 small architecture at 518x518 (built on the device from a
# transformers config, random weights, torch.onnx.export; never committed),
# batch 1..128, against PyTorch eager fp16, torch.compile fp16 and
# onnxruntime-gpu when installed, same GPU, same run; then the GPU's busy %
# (nvidia-smi sampled every 100 ms) during `depthindex run` of 20k demo faces.
# Without a CUDA device it prints "no CUDA device: skipped" and exits 0.
# usage: bench/run-cuda.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_need depthindex
bin="$build/depthindex"
if ! "$bin" --version | grep -q 'engines: cpu cuda'; then
  echo "run-cuda: built without CUDA: skipped"; exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no CUDA device: skipped"; exit 0
fi
work="$build/bench-cuda"; mkdir -p "$work"
py=${PYTHON:-python3}
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "device: $gpu"

# 1. models: MiDaS filled by the project's tool; DA2-small exported with torch
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] && "$bin" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
"$py" - "$work" <<'PY' || echo "run-cuda: Depth Anything V2 export failed (torch/transformers missing?)"
import sys, torch
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
work = sys.argv[1]
cfg = DepthAnythingConfig(backbone_config=Dinov2Config(hidden_size=384, num_hidden_layers=12,
      num_attention_heads=6, out_features=["stage3", "stage6", "stage9", "stage12"],
      reshape_hidden_states=False, image_size=518, patch_size=14),
      neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64, head_hidden_size=32)
m = DepthAnythingForDepthEstimation(cfg).eval()
x = torch.randn(1, 3, 518, 518)
class W(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, x): return s.m(pixel_values=x).predicted_depth.unsqueeze(1)
torch.onnx.export(W(m), x, f"{work}/da2s.onnx", input_names=["image"], output_names=["depth"],
                  dynamic_axes={"image": {0: "N"}, "depth": {0: "N"}}, opset_version=17)
torch.save(m.state_dict(), f"{work}/da2s.pt")
PY

# 2. engine throughput, ours (fp32, tf32, fp16) per batch size
for model in midas da2s; do
  f="$work/$model.onnx"; [ -f "$f" ] || continue
  size=$([ $model = midas ] && echo 256 || echo 518)
  for b in 1 2 4 8 16 32 64 128; do
    "$py" -c "import numpy as np; np.save('$work/x.npy', np.random.rand($b,3,$size,$size).astype('float32'))"
    for prec in fp32 tf32 fp16; do
      ms=$("$bin" infer --model "$f" --input "$work/x.npy" --device cuda --precision $prec --repeat 20 2>&1 | tail -1)
      echo "ours $model $size batch $b $prec: $ms per batch"
    done
  done
done

# 3. references on the same GPU (PyTorch eager fp16, torch.compile fp16, onnxruntime-gpu)
"$py" - "$work" <<'PY' || echo "run-cuda: PyTorch references failed"
import sys, time, torch
work = sys.argv[1]
def bench(f, x, n=20):
    for _ in range(3): f(x)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(n): f(x)
    torch.cuda.synchronize(); return (time.perf_counter() - t) / n * 1e3
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
import os
if not os.path.exists(f"{work}/da2s.pt"): sys.exit(0)
cfg = DepthAnythingConfig(backbone_config=Dinov2Config(hidden_size=384, num_hidden_layers=12,
      num_attention_heads=6, out_features=["stage3", "stage6", "stage9", "stage12"],
      reshape_hidden_states=False, image_size=518, patch_size=14),
      neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64, head_hidden_size=32)
m = DepthAnythingForDepthEstimation(cfg); m.load_state_dict(torch.load(f"{work}/da2s.pt"))
m = m.eval().cuda().half()
comp = torch.compile(m)
with torch.inference_mode():
    for b in (1, 2, 4, 8, 16, 32, 64, 128):
        x = torch.randn(b, 3, 518, 518, device="cuda", dtype=torch.half)
        print(f"pytorch eager fp16 da2s 518 batch {b}: {bench(lambda t: m(pixel_values=t), x):.2f} ms per batch")
        print(f"torch.compile fp16 da2s 518 batch {b}: {bench(lambda t: comp(pixel_values=t), x):.2f} ms per batch")
PY
if "$py" -c "import onnxruntime" 2>/dev/null; then
  "$py" - "$work" <<'PY'
import sys, time, numpy as np, onnxruntime as ort
work = sys.argv[1]
for model, size in (("midas", 256), ("da2s", 518)):
    try:
        s = ort.InferenceSession(f"{work}/{model}.onnx", providers=["CUDAExecutionProvider"])
    except Exception as e:
        print(f"onnxruntime-gpu {model}: {e}"); continue
    name = s.get_inputs()[0].name
    for b in (1, 8, 32, 128):
        x = np.random.rand(b, 3, size, size).astype("float32")
        try:
            for _ in range(3): s.run(None, {name: x})
            t = time.perf_counter()
            for _ in range(10): s.run(None, {name: x})
            print(f"onnxruntime-gpu {model} {size} batch {b}: {(time.perf_counter() - t) / 10 * 1e3:.2f} ms per batch")
        except Exception as e:
            print(f"onnxruntime-gpu {model} batch {b}: {e}")
PY
fi

# 4. GPU busy % during a run of 20k demo faces
db="$work/demo.sqlite"; rm -f "$db"
# 5000 demo panoramas x 4 faces at 256 px (as bench/run-pipeline.sh makes them)
"$bin" init --db "sqlite:$db" --demo 5000 --images "$work/faces" --size 256 >/dev/null
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 > "$work/busy.txt" &
smi=$!
"$bin" run --db "sqlite:$db" --images "$work/faces" --model "$work/midas.onnx" --device cuda 2>&1 | tail -3
kill "$smi" 2>/dev/null
awk '{s+=$1; n++} END {if (n) printf "GPU busy during the run: mean %.1f %% over %d samples\n", s/n, n}' "$work/busy.txt"
