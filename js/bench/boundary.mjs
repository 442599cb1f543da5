// Compares the JSON-text boundary with the serde-wasm-bindgen one (see
// scripts/bench-boundary.sh, which builds both into <dir>/json and <dir>/serde).
//
// Sizes: the optimised .wasm and the wasm-bindgen glue, raw and gzip -9. Speed: formatParams,
// the call every payment makes with the server's bundle, as the client makes it: for JSON,
// `JSON.stringify` the bundle, call, `JSON.parse` the answer (what `Core.format` does); for
// serde, pass and receive the objects. Each round times `calls` calls after a warm-up; the rounds alternate
// between the two modules and the median round counts. Ratios are serde / json from the same
// run; nothing here is asserted (wall-clock time belongs in a report, not in a test).
//
// usage: node boundary.mjs <dir> [calls per round]
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

import { chromium } from 'playwright-core';

const dir = process.argv[2];
const calls = Number(process.argv[3] ?? 10000);
if (!dir || !Number.isInteger(calls) || calls <= 0) {
  console.error('usage: boundary.mjs <dir> [calls per round]');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROUNDS = 7;
const VARIANTS = ['json', 'serde'];

const sizes = {};
for (const v of VARIANTS) {
  const wasm = readFileSync(join(dir, v, 'wxpay_wasm_bg.wasm'));
  const glue = readFileSync(join(dir, v, 'wxpay_wasm.js'));
  const text = glue.toString('utf8');
  sizes[v] = {
    wasmRaw: wasm.length,
    wasmGzip: gzipSync(wasm, { level: 9 }).length,
    glueRaw: glue.length,
    glueGzip: gzipSync(glue, { level: 9 }).length,
    glueImports: (text.match(/^\s+__wbg_\w+: function/gm) ?? []).length,
    glueBigInt: (text.match(/BigInt\(/g) ?? []).length,
  };
}

const page = `<!doctype html><meta charset="utf-8"><script type="module">
import initJson, * as json from './json/wxpay_wasm.js';
import initSerde, * as serde from './serde/wxpay_wasm.js';
await initJson({ module_or_path: './json/wxpay_wasm_bg.wasm' });
await initSerde({ module_or_path: './serde/wxpay_wasm_bg.wasm' });
window.modules = { json, serde };
window.ready = true;
</script>`;

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const server = createServer((req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
    return;
  }
  const file = normalize(join(dir, path));
  if (!file.startsWith(normalize(dir))) {
    res.writeHead(403);
    res.end();
    return;
  }
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: 30_000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let timings;
try {
  const tab = await browser.newPage();
  tab.setDefaultTimeout(120_000);
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => window.ready === true);
  timings = await tab.evaluate(
    ({ calls, rounds }) => {
      const { json, serde } = window.modules;
      const params = {
        appId: 'wx8888888888888888',
        timeStamp: '1700000000',
        nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
        package: 'prepay_id=wx201410272009395522657a690389285100',
        signType: 'RSA',
        paySign: 'A'.repeat(342) + '==',
      };
      const cases = {
        formatParams: {
          json: () => JSON.parse(json.formatParams('weixin-js-bridge', JSON.stringify(params), '')),
          serde: () => serde.formatParams('weixin-js-bridge', params, undefined),
        },
      };
      const out = {};
      for (const [name, pair] of Object.entries(cases)) {
        // Both boundaries must give the same answer, or the comparison means nothing.
        const a = JSON.stringify(pair.json());
        const b = JSON.stringify(pair.serde());
        if (a !== b) throw new Error(`${name}: the two boundaries disagree:\n${a}\n${b}`);
        for (const f of [pair.json, pair.serde]) for (let i = 0; i < 1000; i++) f();
        const runs = { json: [], serde: [] };
        for (let r = 0; r < rounds; r++) {
          for (const v of r % 2 ? ['serde', 'json'] : ['json', 'serde']) {
            const f = pair[v];
            const t0 = performance.now();
            for (let i = 0; i < calls; i++) f();
            runs[v].push(((performance.now() - t0) * 1e6) / calls);
          }
        }
        const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
        out[name] = { json: median(runs.json), serde: median(runs.serde), runs };
      }
      return out;
    },
    { calls, rounds: ROUNDS },
  );
} finally {
  await browser.close();
  await new Promise((r) => server.close(r));
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const ratio = (s, j) => `${(s / j).toFixed(2)}×`;
const rows = [
  ['.wasm raw', sizes.json.wasmRaw, sizes.serde.wasmRaw, kb],
  ['.wasm gzip', sizes.json.wasmGzip, sizes.serde.wasmGzip, kb],
  ['glue JS raw', sizes.json.glueRaw, sizes.serde.glueRaw, kb],
  ['glue JS gzip', sizes.json.glueGzip, sizes.serde.glueGzip, kb],
  ['glue imports from JS', sizes.json.glueImports, sizes.serde.glueImports, String],
  ['`BigInt(` in glue', sizes.json.glueBigInt, sizes.serde.glueBigInt, String],
  ...Object.entries(timings).map(([name, t]) => [`${name} per call`, t.json, t.serde, (ns) => `${(ns / 1000).toFixed(2)} µs`]),
];
console.log(`\nJSON text vs serde-wasm-bindgen: ${calls} calls per round, median of ${ROUNDS} rounds, headless Chromium`);
console.log(`${'measure'.padEnd(28)}${'JSON (baseline)'.padStart(18)}${'serde'.padStart(14)}${'serde/JSON'.padStart(12)}`);
for (const [label, j, s, fmt] of rows) {
  console.log(`${label.padEnd(28)}${fmt(j).padStart(18)}${fmt(s).padStart(14)}${(j ? ratio(s, j) : '–').padStart(12)}`);
}
writeFileSync(join(dir, 'results.json'), JSON.stringify({ calls, rounds: ROUNDS, sizes, timings }, null, 2));
console.log(`\nraw figures: ${join(dir, 'results.json')}`);
