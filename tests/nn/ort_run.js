// ort_run.js: the onnxruntime oracle (npm onnxruntime-node, CPU) for the nn
// tests and the engine benchmark.
//   node ort_run.js MODEL.onnx IN.npy OUT.npy [--threads N] [--repeat R]
// IN.npy is float32 N x ...; a model with a fixed batch of 1 is run once per
// image and the outputs stacked (onnxruntime refuses other batch sizes on
// it). With --repeat, prints the median ms per image as "ort N ms" and the
// process's CPU time per image as "ort cpu N ms".
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const dirs = [process.env.DI_ORT_DIR, path.join(__dirname, '..', 'oracle', 'node_modules')];
  for (const d of dirs) {
    if (!d) continue;
    try { return require(path.join(d, 'onnxruntime-node')); } catch (e) { /* next */ }
  }
  return require('onnxruntime-node');
}

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not an NPY file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = b.toString('latin1', off, off + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: not little-endian float32`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const start = off + hlen;
  const n = shape.reduce((a, c) => a * c, 1);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + start + 4 * n));
  return { shape, data };
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  let threads = 0, repeat = 0;
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') threads = Number(args[++i]);
    else if (args[i] === '--repeat') repeat = Number(args[++i]);
    else pos.push(args[i]);
  }
  const [model, inFile, outFile] = pos;
  const ort = loadOrt();
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (threads > 0) { opts.intraOpNumThreads = threads; opts.interOpNumThreads = 1; }
  const sess = await ort.InferenceSession.create(model, opts);
  const x = readNpy(inFile);
  const n = x.shape[0];
  const per = x.data.length / n;
  const inName = sess.inputNames[0], outName = sess.outputNames[0];
  const outs = [];
  let outShape = null;
  for (let i = 0; i < n; i++) {
    const t = new ort.Tensor('float32', x.data.slice(i * per, (i + 1) * per), [1, ...x.shape.slice(1)]);
    const r = await sess.run({ [inName]: t });
    outs.push(r[outName].data);
    outShape = r[outName].dims;
  }
  if (outFile) {
    const all = new Float32Array(outs.reduce((a, o) => a + o.length, 0));
    let o = 0;
    for (const d of outs) { all.set(d, o); o += d.length; }
    writeNpy(outFile, [n, ...outShape.slice(1)], all);
  }
  if (repeat > 0) {
    const t = new ort.Tensor('float32', x.data.slice(0, per), [1, ...x.shape.slice(1)]);
    await sess.run({ [inName]: t });
    const times = [];
    const cpu0 = process.cpuUsage();
    for (let r = 0; r < repeat; r++) {
      const t0 = process.hrtime.bigint();
      await sess.run({ [inName]: t });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const cpu = process.cpuUsage(cpu0);
    times.sort((a, b) => a - b);
    const m = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    console.log(`ort ${m.toFixed(3)} ms`);
    // CPU time of the whole process per run: steadier than wall time on a shared machine
    console.log(`ort cpu ${((cpu.user + cpu.system) / 1000 / repeat).toFixed(3)} ms`);
  }
}
// bench/ort_profile.js loads the reference and reads its input the same way
module.exports = { loadOrt, readNpy };
if (require.main === module)
  main().catch(e => { console.error(`ort_run: ${e.message}`); process.exit(1); });
