// Client side of the peer benchmark: sizes (raw / gzip / brotli) of the wxpay-client wasm and
// glue beside npm's jweixin-module (WeChat's JS-SDK), and their start-up time in headless
// Chromium (cold, then the median of repeats), over RUNS fresh browser processes.
// usage: node run.mjs PKG_DIR JWEIXIN_DIR [RUNS]
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [pkg, jweixin, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg || 3);
const here = new URL('.', import.meta.url).pathname;
const KB = 1024;
const size = (file) => {
  const b = readFileSync(file);
  return {
    raw: b.length,
    gzip: gzipSync(b, { level: 9 }).length,
    brotli: brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
};
const rows = [
  ['wxpay-client .wasm (web, main)', size(join(pkg, 'esm/wasm/web/wxpay_wasm_bg.wasm'))],
  ['wxpay-client wasm-bindgen glue', size(join(pkg, 'esm/wasm/web/wxpay_wasm.js'))],
  ['wxpay-client .wasm (QR, lazy)', size(join(pkg, 'esm/wasm/qr/wxpay_qr_bg.wasm'))],
  ['jweixin-module lib/index.js', size(join(jweixin, 'lib/index.js'))],
];

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
function serve(onResult) {
  return createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.end('ok');
        onResult(JSON.parse(body));
      });
      return;
    }
    const url = decodeURIComponent(req.url.split('?')[0]);
    const [root, rest] = url.startsWith('/pkg/') ? [pkg, url.slice(5)]
      : url.startsWith('/jweixin/') ? [jweixin, url.slice(9)]
      : [here, url === '/' ? 'page.html' : url.slice(1)];
    const file = join(root, normalize(rest).replace(/^(\.\.[/\\])+/, ''));
    try {
      const data = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(data);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
}

async function once(first) {
  let done;
  const result = new Promise((resolve) => (done = resolve));
  const server = serve(done);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const profile = mkdtempSync(join(tmpdir(), 'wxpay-chromium-'));
  const browser = spawn('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`,
    `http://127.0.0.1:${server.address().port}/?first=${first}`,
  ], { stdio: 'ignore', detached: true });
  const timer = setTimeout(() => done({ error: 'no result from Chromium within 60 s' }), 60_000);
  try {
    return await result;
  } finally {
    clearTimeout(timer);
    const exited = new Promise((resolve) => browser.once('exit', resolve));
    // The browser's own process group: its renderer and zygote go with it.
    try {
      process.kill(-browser.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    server.close();
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

const runs = [];
for (let i = 0; i < RUNS; i++) {
  const r = await once(i % 2 ? 'jssdk' : 'wasm');
  if (r.error) throw new Error(r.error);
  runs.push(r);
}
const median = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];

const pad = (s, n) => String(s).padStart(n);
// Chromium coarsens performance.now() to 0.1 ms on a page that is not cross-origin isolated.
const ms = (v) => (v < 0.1 ? '<0.1' : v.toFixed(2));
console.log(`${'client artifact'.padEnd(34)}${pad('raw', 10)}${pad('gzip', 10)}${pad('brotli', 10)}`);
for (const [label, s] of rows) {
  console.log(`${label.padEnd(34)}${pad((s.raw / KB).toFixed(1) + ' KB', 10)}${pad((s.gzip / KB).toFixed(1) + ' KB', 10)}${pad((s.brotli / KB).toFixed(1) + ' KB', 10)}`);
}
const ours = rows[0][1].brotli + rows[1][1].brotli;
const theirs = rows[3][1].brotli;
console.log(`wxpay-client wasm + glue / jweixin-module, brotli: ${(ours / theirs).toFixed(2)}x`);
console.log();
console.log(`start-up in headless Chromium (median of ${RUNS} browser runs)        cold      repeat`);
console.log(`wxpay-client: fetch + compile + instantiate (glue init)   ${pad(ms(median('wasm_cold_ms')), 9)} ms ${pad(ms(median('wasm_repeat_ms')), 8)} ms (compile + instantiate)`);
console.log(`jweixin-module: load + evaluate the script                ${pad(ms(median('jssdk_cold_ms')), 9)} ms ${pad(ms(median('jssdk_repeat_ms')), 8)} ms (evaluate)`);
