#!/usr/bin/env node
// Time one ONNX model on ONNX Runtime (onnxruntime-node, CPU provider).
//
//   node bench/engine/ort_run.js MODEL.onnx --shape 1,3,224,224 \
//        [--threads N] [--warmup W] [--runs R] [--min-ms T]
//
// --min-ms T: timed runs go on past R until they add up to T ms (at most
// 1000000 runs), as `jalad run --min-time` does.
// Prints one JSON line: {"engine": "ort", "median_ms", "min_ms",
// "session_create_ms", "runs", "threads", "version"}. Threads: intra-op
// N, inter-op 1, sequential execution, all graph optimizations; the input
// is fixed pseudo-random data. onnxruntime-node is looked up in
// bench/node_modules (run.sh installs it).
'use strict';

const path = require('path');

function parseArgs(argv) {
  const o = { model: null, threads: 1, warmup: 3, runs: 20, minMs: 0, shape: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--threads') o.threads = parseInt(next(), 10);
    else if (a === '--warmup') o.warmup = parseInt(next(), 10);
    else if (a === '--runs') o.runs = parseInt(next(), 10);
    else if (a === '--min-ms') o.minMs = parseFloat(next());
    else if (a === '--shape') o.shape = next().split(',').map((v) => parseInt(v, 10));
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.model = a;
  }
  if (!o.model || !o.shape || !(o.threads >= 1) || !(o.runs >= 1) || !(o.minMs >= 0)) {
    throw new Error('usage: ort_run.js MODEL --shape D0,D1,... [--threads N] [--warmup W] [--runs R] [--min-ms T]');
  }
  return o;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ort_run: ${e.message}\n`);
    process.exit(2);
  }
  const ort = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node'));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(o.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const n = o.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let seed = 42;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    data[i] = (seed >>> 8) / (1 << 24) * 4 - 2;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, o.shape) };
  for (let i = 0; i < o.warmup; i++) await session.run(feeds);
  const times = [];
  let total = 0;
  while (times.length < o.runs || (total < o.minMs && times.length < 1000000)) {
    const a = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - a) / 1e6;
    times.push(ms);
    total += ms;
  }
  let version = '?';
  try {
    version = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node', 'package.json')).version;
  } catch (e) { /* keep '?' */ }
  process.stdout.write(JSON.stringify({
    engine: 'ort', model: o.model, threads: o.threads, runs: times.length,
    median_ms: median(times), min_ms: Math.min(...times),
    session_create_ms: createMs, version,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_run: ${e.stack || e}\n`);
  process.exit(1);
});
