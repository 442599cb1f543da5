// Prints raw / gzip / brotli sizes of the package's wasm and of the web entry's JS (the
// entry plus every module it imports, as a bundler would ship them), and enforces the budget:
// .wasm ≤ 150 KB raw and ≤ 60 KB gzip; web JS ≤ 15 KB gzip. Writes js/dist/sizes.json.
// usage: node sizes.mjs <pkg dir>
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const pkg = resolve(process.argv[2]);
const KB = 1024;
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/** The entry and its static relative imports, transitively. */
function closure(entry) {
  const seen = new Set();
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]/g)) {
      stack.push(resolve(dirname(f), m[1]));
    }
  }
  return [...seen];
}

const rows = [];
const measure = (label, bytes) => {
  const r = { label, raw: bytes.length, gzip: gz(bytes), brotli: br(bytes) };
  rows.push(r);
  return r;
};
const webWasm = measure('web .wasm (main)', readFileSync(join(pkg, 'esm/wasm/web/wxpay_wasm_bg.wasm')));
const mpWasm = measure('mini-program .wasm', readFileSync(join(pkg, 'esm/wasm/mp/wxpay_wasm_bg.wasm')));
measure('QR .wasm (desktop flow, lazy)', readFileSync(join(pkg, 'esm/wasm/qr/wxpay_qr_bg.wasm')));
rows.push({ label: 'mini-program .wasm.br (shipped)', raw: readFileSync(join(pkg, 'miniprogram_dist/wxpay_wasm_bg.wasm.br')).length });
const files = closure(join(pkg, 'esm/entries/web.js'));
const webJs = measure(`web entry JS (${files.length} files, concatenated)`, Buffer.concat(files.map((f) => readFileSync(f))));
const mpFiles = closure(join(pkg, 'esm/entries/uniapp.js'));
measure(`uniapp entry JS (${mpFiles.length} files)`, Buffer.concat(mpFiles.map((f) => readFileSync(f))));

const fmt = (n) => (n === undefined ? '' : `${(n / KB).toFixed(1)} KB`.padStart(10));
console.log(`${'artifact'.padEnd(44)}${'raw'.padStart(10)}${'gzip'.padStart(10)}${'brotli'.padStart(10)}`);
for (const r of rows) console.log(`${r.label.padEnd(44)}${fmt(r.raw)}${fmt(r.gzip)}${fmt(r.brotli)}`);

const over = [];
for (const w of [webWasm, mpWasm]) {
  if (w.raw > 150 * KB) over.push(`${w.label} raw ${w.raw} B > 150 KB`);
  if (w.gzip > 60 * KB) over.push(`${w.label} gzip ${w.gzip} B > 60 KB`);
}
if (webJs.gzip > 15 * KB) over.push(`web JS gzip ${webJs.gzip} B > 15 KB`);
writeFileSync(join(pkg, '..', 'sizes.json'), JSON.stringify({ rows, webEntryFiles: files.map((f) => relative(pkg, f)) }, null, 2));
if (over.length) {
  for (const o of over) console.error(`SIZE BUDGET EXCEEDED: ${o}`);
  process.exit(1);
}
console.log('size budget: ok (.wasm ≤ 150 KB raw / 60 KB gzip; web JS ≤ 15 KB gzip)');
