// Issue 15, client side: the package's start-up in the simulated mini-program runtime (the
// one js/test/miniprogram-sim.test.mjs runs the package in: no WebAssembly global, only
// WXWebAssembly with a package path to the brotli-compressed .wasm). Each run is a fresh Node
// process, so every figure is cold: `require` of the package, then `init()` (read the .wasm.br,
// decompress, compile and instantiate). Node is not a phone; the figures compare, they do not
// predict a device.
//
//   node bench/client/miniprogram.mjs <js/dist/pkg> [runs]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

const [pkg, second] = process.argv.slice(2);

if (second === '--once') {
  const root = mkdtempSync(join(tmpdir(), 'wxpay-mp-bench-'));
  cpSync(join(pkg, 'miniprogram_dist'), join(root, 'miniprogram_npm/wxpay-client'), { recursive: true });
  const RealWebAssembly = globalThis.WebAssembly;
  for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'URL', 'FinalizationRegistry', 'crypto']) {
    delete globalThis[name];
  }
  globalThis.WXWebAssembly = {
    instantiate(path, imports) {
      const file = normalize(join(root, path));
      let bytes = readFileSync(file);
      if (path.endsWith('.br')) bytes = brotliDecompressSync(bytes);
      return RealWebAssembly.instantiate(bytes, imports);
    },
    Memory: RealWebAssembly.Memory,
    Table: RealWebAssembly.Table,
  };
  globalThis.wx = { getSystemInfoSync: () => ({ platform: 'devtools' }) };
  const t0 = performance.now();
  const sdk = createRequire(join(root, 'app.js'))('./miniprogram_npm/wxpay-client/index.js');
  const t1 = performance.now();
  await sdk.init();
  const t2 = performance.now();
  rmSync(root, { recursive: true, force: true });
  console.log(JSON.stringify({ require_ms: t1 - t0, init_ms: t2 - t1 }));
} else {
  const runs = Number(second ?? 9);
  const self = fileURLToPath(import.meta.url);
  const samples = [];
  for (let i = 0; i < runs; i++) {
    samples.push(JSON.parse(execFileSync(process.execPath, [self, resolve(pkg), '--once'], { encoding: 'utf8' }).trim()));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (v) => `${v.toFixed(2)} ms`;
  console.log(`simulated mini-program runtime (Node ${process.version}, ${runs} cold processes, median)`);
  console.log(`  require the package                                       ${fmt(median(samples.map((s) => s.require_ms)))}`);
  console.log(`  init(): .wasm.br read + brotli + compile + instantiate   ${fmt(median(samples.map((s) => s.init_ms)))}`);
}
