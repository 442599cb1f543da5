// Checks the uni-app builds made by scripts/test-uniapp.sh (`npm run build:mp-weixin`, and
// `npm run build:h5` when its output exists). Every check prints one line; any failure makes
// the exit code 1. Usage: node check-build.mjs [--h5] [--log mp-weixin=FILE] [--log h5=FILE]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const withH5 = args.includes('--h5');
const logs = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--log') {
    const [k, ...v] = args[++i].split('=');
    logs[k] = v.join('=');
  }
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}
function info(line) {
  console.log(`     ${line}`);
}
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
const kb = (n) => `${n} B (${(n / 1024).toFixed(1)} KiB)`;
const read = (f) => readFileSync(f, 'utf8');

// The module the package ships; what the Vite plugin emits must be exactly this.
const pkgWasmPath = fileURLToPath(import.meta.resolve('wxpay-client/wasm/mp'));
const pkgWasm = readFileSync(pkgWasmPath);
const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

// uni's console.error for a broken #ifdef does not fail the build (it compiles the file
// unprocessed and still prints "Build complete"), so the logs are read as well.
function checkLog(platform) {
  const file = logs[platform];
  if (!file) return;
  const text = read(file);
  const bad = text.split('\n').filter((l) => /条件编译失败|Build failed|\[plugin |\bERROR\b|Error:/.test(l));
  check(`${platform}: build log has no conditional-compilation or build errors`, bad.length === 0, bad.slice(0, 3).join(' | '));
  check(`${platform}: build log says "Build complete"`, /Build complete/.test(text));
  // manifest.json turns uni statistics off; left on, uni bundles its reporting to DCloud.
  check(`${platform}: uni statistics off (no uni-stat notice in the log)`, !/uni statistics|uni统计/i.test(text));
}

// ---------------------------------------------------------------- mp-weixin
{
  const out = join(here, 'dist/build/mp-weixin');
  console.log(`== mp-weixin: ${relative(process.cwd(), out) || out}`);
  checkLog('mp-weixin');
  if (!existsSync(out)) {
    check('mp-weixin: output directory exists', false, out);
  } else {
    const files = walk(out);
    const rel = (f) => relative(out, f).split('\\').join('/');

    // app.json lists the pages of src/pages.json, each compiled to .js/.json/.wxml/.wxss.
    const appJson = JSON.parse(read(join(out, 'app.json')));
    const srcPages = JSON.parse(read(join(here, 'src/pages.json'))).pages.map((p) => p.path);
    for (const page of ['pages/index/index', 'pages/pay/pay']) {
      check(`mp-weixin: app.json lists ${page}`, Array.isArray(appJson.pages) && appJson.pages.includes(page), JSON.stringify(appJson.pages));
      const missing = ['js', 'json', 'wxml', 'wxss'].filter((ext) => !existsSync(join(out, `${page}.${ext}`)));
      check(`mp-weixin: ${page}.{js,json,wxml,wxss} exist`, missing.length === 0, missing.length ? `missing .${missing.join(', .')}` : '');
    }
    check('mp-weixin: app.json pages equal src/pages.json, in order', JSON.stringify(appJson.pages) === JSON.stringify(srcPages));
    const project = JSON.parse(read(join(out, 'project.config.json')));
    check('mp-weixin: project.config.json carries the manifest AppID', project.appid === 'wx0000000000000001', project.appid);

    // The wasm core emitted by wxpay-client/vite.
    const wasmFiles = files.filter((f) => rel(f).startsWith('static/wxpay/'));
    for (const f of wasmFiles) info(`emitted ${rel(f)}: ${kb(statSync(f).size)}`);
    const br = join(out, 'static/wxpay/wxpay_wasm_bg.wasm.br');
    check('mp-weixin: static/wxpay/wxpay_wasm_bg.wasm.br emitted', existsSync(br));
    if (existsSync(br)) {
      let raw;
      try {
        raw = brotliDecompressSync(readFileSync(br));
      } catch (e) {
        raw = Buffer.alloc(0);
      }
      check('mp-weixin: .wasm.br is Brotli of a wasm module (\\0asm magic)', raw.subarray(0, 4).equals(WASM_MAGIC), `${kb(raw.length)} decompressed`);
      check("mp-weixin: .wasm.br decompresses to the package's wasm/mp module byte for byte", raw.equals(pkgWasm), relative(here, pkgWasmPath));
    }
    check(
      'mp-weixin: no uncompressed .wasm in the code package (the plugin emits only .br for mp-*)',
      !files.some((f) => f.endsWith('.wasm')),
      files.filter((f) => f.endsWith('.wasm')).map(rel).join(', '),
    );

    // Conditional compilation: only the MP-WEIXIN branches of pay.vue / session.js survive.
    const pay = read(join(out, 'pages/pay/pay.js'));
    check('mp-weixin: pay page passes channel "miniprogram"', /channel\s*[:=]\s*["']miniprogram["']/.test(pay));
    for (const lit of ['app', 'auto']) {
      check(`mp-weixin: pay page has no "${lit}" channel literal (#ifdef ${lit === 'app' ? 'APP-PLUS' : 'H5'} removed)`, !new RegExp(`["'\`]${lit}["'\`]`).test(pay));
    }
    check('mp-weixin: pay page has the MP-WEIXIN label only', pay.includes('Pay 微信支付') && !pay.includes('(App)') && !pay.includes('"Pay 支付"'));
    const session = read(join(out, 'utils/session.js'));
    check('mp-weixin: session logs in through /api/login/miniprogram', session.includes('/api/login/miniprogram'));
    check('mp-weixin: session has no #ifndef MP-WEIXIN branch', !session.includes('no session: log the user in'));
    check(
      'mp-weixin: process.env.UNI_PLATFORM compiled to "mp-weixin"',
      /uniPlatform:\s*["']mp-weixin["']/.test(session) && !session.includes('process.env'),
    );

    // The wxpay-client code it ships: loads the emitted .wasm.br with WXWebAssembly and never
    // touches a bare global `WebAssembly` (a ReferenceError where the mini-program has none;
    // the package's web glue would do `WebAssembly.instantiate` / `instanceof WebAssembly.Module`).
    const js = files.filter((f) => f.endsWith('.js'));
    const loaders = js.filter((f) => read(f).includes('wxpay_wasm_bg.wasm.br'));
    check('mp-weixin: the wxpay-client loader is bundled', loaders.length > 0, loaders.map(rel).join(', '));
    for (const f of loaders) {
      const src = read(f);
      const m = src.match(/["'`](\/?static\/wxpay\/[\w.-]+\.wasm\.br)["'`]/);
      check(`mp-weixin: ${rel(f)} loads a .wasm.br path that exists in the package`, !!m && existsSync(join(out, m[1].replace(/^\//, ''))), m ? m[1] : 'no path literal');
      const wx = src.search(/WXWebAssembly/);
      const web = src.search(/[\w$)]\.WebAssembly\b/);
      check(`mp-weixin: ${rel(f)} uses WXWebAssembly.instantiate, tried before any WebAssembly fallback`, wx >= 0 && /\.instantiate\b/.test(src.slice(wx, wx + 400)) && (web < 0 || wx < web));
    }
    const bare = js.flatMap((f) =>
      [...read(f).matchAll(/(?<![\w$.])WebAssembly\b/g)].map((m) => `${rel(f)}: …${read(f).slice(Math.max(0, m.index - 30), m.index + 40)}…`),
    );
    check('mp-weixin: no bare global `WebAssembly` reference in any shipped JS', bare.length === 0, bare.slice(0, 3).join(' | '));
    const stat = js.filter((f) => /tongji[\w-]*\.dcloud/.test(read(f)));
    check('mp-weixin: no uni statistics reporting bundled', stat.length === 0, stat.map(rel).join(', '));
    // uni inlines dynamic imports on mp: without the plugin's stub, the ~220 KB wasm2js core
    // (its base64 decoder is the tell) would ride along in vendor.js.
    const w2j = js.filter((f) => read(f).includes('base64ReverseLookup'));
    check('mp-weixin: the pure-JS (wasm2js) core is left out', w2j.length === 0, w2j.map(rel).join(', '));
    for (const f of js.filter((f) => /vendor\.js$/.test(f))) info(`${rel(f)}: ${kb(statSync(f).size)}`);
    const total = files.reduce((n, f) => n + statSync(f).size, 0);
    info(`mp-weixin code package: ${files.length} files, ${kb(total)}`);
  }
}

// ---------------------------------------------------------------- h5
if (withH5) {
  const out = join(here, 'dist/build/h5');
  console.log(`== h5: ${relative(process.cwd(), out) || out}`);
  checkLog('h5');
  if (!existsSync(out)) {
    check('h5: output directory exists', false, out);
  } else {
    const files = walk(out);
    const rel = (f) => relative(out, f).split('\\').join('/');
    for (const f of files.filter((f) => rel(f).startsWith('static/wxpay/'))) info(`emitted ${rel(f)}: ${kb(statSync(f).size)}`);
    const wasm = join(out, 'static/wxpay/wxpay_wasm_bg.wasm');
    check('h5: static/wxpay/wxpay_wasm_bg.wasm emitted', existsSync(wasm));
    if (existsSync(wasm)) check("h5: it is the package's wasm/mp module byte for byte", readFileSync(wasm).equals(pkgWasm));
    const html = read(join(out, 'index.html'));
    const scripts = [...html.matchAll(/<script[^>]+src="\/?([^"]+)"/g)].map((m) => m[1]);
    check('h5: index.html loads built scripts that exist', scripts.length > 0 && scripts.every((s) => existsSync(join(out, s))), scripts.join(', '));
    const payChunks = files.filter((f) => /pages-pay-pay[^/]*\.js$/.test(f));
    check('h5: pay page chunk emitted', payChunks.length === 1, payChunks.map(rel).join(', '));
    if (payChunks.length === 1) {
      const pay = read(payChunks[0]);
      check('h5: pay page passes channel "auto"', /["'`]auto["'`]/.test(pay));
      check('h5: pay page has no "miniprogram" / "app" channel literal', !/["'`](miniprogram|app)["'`]/.test(pay));
    }
    const assets = files.filter((f) => f.endsWith('.js')).map(read).join('\n');
    check('h5: process.env.UNI_PLATFORM compiled to "h5"', /uniPlatform:\s*["']h5["']/.test(assets));
    check('h5: the loader fetches /static/wxpay/wxpay_wasm_bg.wasm', assets.includes('/static/wxpay/wxpay_wasm_bg.wasm"') || assets.includes("/static/wxpay/wxpay_wasm_bg.wasm'"));
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
