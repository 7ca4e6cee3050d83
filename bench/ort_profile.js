// ort_profile.js: onnxruntime-node's own per-op profile (SessionOptions
// enableProfiling) of a model, for comparing with bench_engine's per-op
// lines on the same file and input (bench/run-transformer.sh).
//   node bench/ort_profile.js MODEL.onnx IN.npy [--threads N] [--repeat R] [--nodes OP]
//                             [--trace FILE]
// Runs once to warm up, then R times with profiling, and prints per op type
// the kernel time in ms per run ("ort-op NAME MS PERCENT"), largest first,
// after the median of the timed runs' own durations ("ort-run median MS ms");
// with --nodes OP[,OP...], also each node of those op types ("ort-node NAME MS").
// The trace file is written under the system's temporary folder and removed;
// --trace FILE keeps a copy (bench/vit_ops_compare.py reads it).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

// the oracle's own loader and NPY reader (the nn tests' runner)
const { loadOrt, readNpy } = require(path.join(__dirname, '..', 'tests', 'nn', 'ort_run.js'));

async function main() {
  const args = process.argv.slice(2);
  let threads = 0, repeat = 3, nodesOf = '', keep = '';
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') threads = Number(args[++i]);
    else if (args[i] === '--repeat') repeat = Number(args[++i]);
    else if (args[i] === '--nodes') nodesOf = args[++i];
    else if (args[i] === '--trace') keep = args[++i];
    else pos.push(args[i]);
  }
  const [model, inFile] = pos;
  const ort = loadOrt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'di-ort-prof-'));
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all',
                 enableProfiling: true, profileFilePrefix: path.join(dir, 'p') };
  if (threads > 0) { opts.intraOpNumThreads = threads; opts.interOpNumThreads = 1; }
  try {
    const sess = await ort.InferenceSession.create(model, opts);
    const x = readNpy(inFile);
    const per = x.data.length / x.shape[0];
    const t = new ort.Tensor('float32', x.data.slice(0, per), [1, ...x.shape.slice(1)]);
    const feeds = { [sess.inputNames[0]]: t };
    await sess.run(feeds);
    for (let r = 0; r < repeat; r++) await sess.run(feeds);
    sess.endProfiling();
    const file = fs.readdirSync(dir).map(f => path.join(dir, f))[0];
    if (keep) fs.copyFileSync(file, keep);
    const ev = JSON.parse(fs.readFileSync(file, 'utf8'));
    // each run's node events: "<node>_kernel_time" with args.op_name; the
    // first run (warm-up) is left out by counting runs from the end
    const runs = ev.filter(e => e.cat === 'Session' && e.name === 'model_run');
    const from = runs.length > repeat ? runs[runs.length - repeat].ts : 0;
    const by = new Map(), nodes = new Map();
    let total = 0;
    for (const e of ev) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
      const op = e.args.op_name;
      by.set(op, (by.get(op) || 0) + e.dur);
      if (nodesOf.split(',').includes(op)) {
        const name = e.name.slice(0, -'_kernel_time'.length);
        nodes.set(name, (nodes.get(name) || 0) + e.dur);
      }
      total += e.dur;
    }
    // the timed runs' own durations (kernels and what lies between them)
    const walls = runs.slice(-repeat).map(e => e.dur / 1000).sort((a, b) => a - b);
    const mid = walls.length >> 1;
    const wall = walls.length % 2 ? walls[mid] : (walls[mid - 1] + walls[mid]) / 2;
    console.log(`ort-run median ${wall.toFixed(2)} ms`);
    const rows = [...by.entries()].sort((a, b) => b[1] - a[1]);
    for (const [op, us] of rows)
      console.log(`ort-op ${op.padEnd(24)} ${(us / 1000 / repeat).toFixed(2).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%`);
    for (const [name, us] of nodes)
      console.log(`ort-node ${name} ${(us / 1000 / repeat).toFixed(3)} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
main().catch(e => { console.error(`ort_profile: ${e.message}`); process.exit(1); });
