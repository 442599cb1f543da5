// The package as a user gets it: `npm pack` the OPTIMISED build, install the tarball into a
// fresh Node project and a fresh Vite project, and run smoke checks there (the Vite build in
// headless Chromium). Also type-checks a consumer against the published declarations.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startMerchantStub } from './merchant-stub.mjs';

const js = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = join(js, 'dist/pkg');
const work = mkdtempSync(join(tmpdir(), 'wxpay-pack-'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let tarball;

const run = (cmd, args, cwd) => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // tsc reports on stdout: show it, not only "Command failed".
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: e });
  }
};
const npmInstall = (dir) => run('npm', ['install', '--no-fund', '--no-audit', '--loglevel=error', '--offline', tarball], dir);

before(() => {
  const out = run('npm', ['pack', '--json', '--pack-destination', work], pkgDir);
  tarball = join(work, JSON.parse(out)[0].filename);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds the entries and no build leftovers', () => {
  const files = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], pkgDir))[0].files.map((f) => f.path);
  for (const f of ['esm/entries/web.js', 'esm/entries/node.js', 'miniprogram_dist/index.js', 'miniprogram_dist/wxpay_wasm_bg.wasm.br', 'esm/wasm/web/wxpay_wasm_bg.wasm', 'esm/wasm/qr/wxpay_qr_bg.wasm', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('miniprogram_dist/') && f.endsWith('.wasm')), 'raw .wasm in miniprogram_dist');
  assert.ok(!files.some((f) => /\.test\.|\/test\//.test(f)), 'tests shipped');
});

test('check-package.mjs can fail: `any` in any position (ours and generated .d.ts), types after a file condition', () => {
  const copy = join(work, 'pkg-copy');
  cpSync(pkgDir, copy, { recursive: true });
  const check = () => {
    try {
      run('node', [join(js, 'tools/check-package.mjs'), copy], js);
      return [];
    } catch (e) {
      return e.message.split('\n').filter((l) => l.startsWith('PACKAGE CHECK FAILED'));
    }
  };
  assert.deepEqual(check(), [], 'the unmodified package passes');
  const dts = {
    'esm/entries/web.d.ts': 'export type A = () => any;',
    'esm/core/types.d.ts': 'export type B<T = any> = T;',
    'esm/core/errors.d.ts': 'export type C<T> = T extends any ? 1 : 0;',
    'esm/wasm/web/wxpay_wasm.d.ts': 'export function d(x: number): any;',
    // Not `any`: comments and string literal types.
    'esm/core/client.d.ts': "/** any */ // any\nexport type E = 'any' | \"any\";",
  };
  for (const [f, line] of Object.entries(dts)) appendFileSync(join(copy, f), `\n${line}\n`);
  const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'));
  manifest.exports['./web'] = { default: './esm/entries/web.js', types: './esm/entries/web.d.ts' };
  writeFileSync(join(copy, 'package.json'), JSON.stringify(manifest));
  const problems = check();
  for (const f of Object.keys(dts).slice(0, 4)) assert.ok(problems.some((p) => p.includes(f) && p.includes('`any`')), `${f}: ${problems.join('\n')}`);
  assert.ok(!problems.some((p) => p.includes('client.d.ts')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('exports ../web: "types" must come first')), problems.join('\n'));
});

test('no package without its licence texts: check-package.mjs and the assembly both refuse', async () => {
  const copy = join(work, 'pkg-no-licence');
  cpSync(pkgDir, copy, { recursive: true });
  rmSync(join(copy, 'LICENSE-APACHE'));
  writeFileSync(join(copy, 'LICENSE-MIT'), 'not a licence\n');
  const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'));
  manifest.files = manifest.files.filter((f) => f !== 'LICENSE-MIT');
  writeFileSync(join(copy, 'package.json'), JSON.stringify(manifest));
  let problems = [];
  try {
    run('node', [join(js, 'tools/check-package.mjs'), copy], js);
  } catch (e) {
    problems = e.message.split('\n').filter((l) => l.startsWith('PACKAGE CHECK FAILED'));
  }
  assert.ok(problems.some((p) => p.includes('LICENSE-APACHE is missing')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('LICENSE-MIT is not the MIT licence text')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('files does not list LICENSE-MIT')), problems.join('\n'));

  const { copyLicenses } = await import('../tools/licenses.mjs');
  const root = join(work, 'root-without-apache');
  mkdirSync(root);
  cpSync(join(js, '../LICENSE-MIT'), join(root, 'LICENSE-MIT'));
  const out = join(work, 'licence-out');
  mkdirSync(out);
  assert.throws(() => copyLicenses(root, out, 'MIT OR Apache-2.0'), /LICENSE-APACHE is missing/);
  copyLicenses(join(js, '..'), out, 'MIT OR Apache-2.0');
  assert.deepEqual(readdirSync(out).sort(), ['LICENSE-APACHE', 'LICENSE-MIT']);
});

test('fresh Node project: ESM import, CommonJS mini-program require, types', async () => {
  const dir = join(work, 'node-app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node-app', private: true, type: 'module' }));
  npmInstall(dir);
  writeFileSync(
    join(dir, 'smoke.mjs'),
    `import { createClient, WxPayError } from 'wxpay-client';
import { createRequire } from 'node:module';
const client = createClient({ baseUrl: 'http://127.0.0.1:1', transport: async () => ({ status: 200, body: '{"state":"SUCCESS"}' }) });
const svg = await client.qrSvg('weixin://wxpay/bizpayurl?pr=x');
const r = await client.confirm('o1');
let code = null;
try { await client.pay({ orderId: 'o1', channel: 'jsapi', environment: 'we-chat-browser' }); } catch (e) { code = e instanceof WxPayError ? e.code : 'other'; }
const require = createRequire(import.meta.url);
const mp = require('wxpay-client/miniprogram');
// A Vite config bundled as CommonJS (uni-app's template) requires the plugin.
const vite = require('wxpay-client/vite');
const emitted = [];
vite().generateBundle.call({ emitFile: (f) => emitted.push(f.fileName + ':' + f.source.length) });
const { default: viteEsm } = await import('wxpay-client/vite');
const emittedEsm = [];
viteEsm().generateBundle.call({ emitFile: (f) => emittedEsm.push(f.fileName + ':' + f.source.length) });
console.log(JSON.stringify({ svg: svg.includes('<svg'), state: r.state, paid: r.paid, code, mp: typeof mp.createClient, mpInit: typeof mp.init,
  viteCjs: typeof vite === 'function' && vite.default === vite, sameAssets: emitted.length === 2 && emitted.join() === emittedEsm.join() }));
`,
  );
  const out = JSON.parse(run('node', ['smoke.mjs'], dir).trim());
  // transport answers {"state":"SUCCESS"} to the pay request too: no `params` → not the documented PayResponse.
  assert.deepEqual(out, { svg: true, state: 'SUCCESS', paid: true, code: 'SERVER_RESPONSE', mp: 'function', mpInit: 'function', viteCjs: true, sameAssets: true });

  writeFileSync(
    join(dir, 'consumer.ts'),
    `import { createClient, type PayResult, type WxPayErrorCode, type Environment } from 'wxpay-client';
import wxpay from 'wxpay-client/vite';
import { createClient as mpClient } from 'wxpay-client/miniprogram';
import { init as rootInit } from 'wxpay-client';
import { init as webInit } from 'wxpay-client/web';
import { createClient as bundlerClient } from 'wxpay-client/bundler';
import { init as slimInit, initQr as slimInitQr, type WasmSource } from 'wxpay-client/slim';
const c = createClient({ baseUrl: '/' });
// Node resolves \`wxpay-client\` to the node entry, and gets its types: init(bytes?) is synchronous.
const loaded: void = rootInit(new Uint8Array(0));
// @ts-expect-error: the node entry's init takes bytes, not a URL (the web entry's would accept it)
rootInit('/wxpay_wasm_bg.wasm');
const webLoaded: Promise<void> = webInit(new URL('https://cdn.example.com/wxpay_wasm_bg.wasm'));
const slimSource: WasmSource = new Uint8Array(0);
const slimLoaded: Promise<void> = slimInit(slimSource).then(() => slimInitQr('/wxpay_qr_bg.wasm'));
// @ts-expect-error: the slim entry needs an explicit source
slimInit();
const b: Promise<PayResult> = bundlerClient({ baseUrl: '/' }).pay({ orderId: 'x' });
const p: Promise<PayResult> = c.pay({ orderId: 'x', channel: 'auto' });
const code: WxPayErrorCode = 'MISNAMED_FIELD';
const env: Environment = 'we-chat-browser';
const plugin: { name: string } = wxpay();
// @ts-expect-error: unknown channels are rejected by the types
c.pay({ orderId: 'x', channel: 'alipay' });
// @ts-expect-error: the package does not declare a global wx
wx.requestPayment({});
void p; void code; void env; void plugin; void mpClient; void loaded; void webLoaded; void slimLoaded; void b;
`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], skipLibCheck: false } , files: ['consumer.ts'] }),
  );
  run(join(js, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], dir);
});

test('fresh Vite project: build, serve, run in headless Chromium', { skip: !existsSync(CHROMIUM) && 'no chromium' }, async () => {
  const dir = join(work, 'vite-app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vite-app', private: true, type: 'module' }));
  npmInstall(dir);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><div id="out">…</div><script type="module" src="/main.js"></script>\n');
  writeFileSync(
    join(dir, 'main.js'),
    `// The \`./bundler\` export, as a Vite app would import it; \`.\` must resolve to the same build.
import { createClient } from 'wxpay-client/bundler';
import * as root from 'wxpay-client';
const client = createClient({ baseUrl: location.origin });
window.smoke = (async () => {
  const env = await client.detect();
  const svg = await client.qrSvg('weixin://wxpay/bizpayurl?pr=vite');
  const r = await client.confirm('v-1', { timeoutMs: 5000 });
  document.getElementById('out').textContent = r.paid ? 'paid' : r.state;
  return { env, svg: svg.startsWith('<?xml') || svg.includes('<svg'), paid: r.paid, sameBuild: root.createClient === createClient };
})();
`,
  );
  const { build } = await import(join(js, 'node_modules/vite/dist/node/index.js'));
  await build({ root: dir, logLevel: 'warn', build: { outDir: join(dir, 'dist'), emptyOutDir: true } });
  const assets = readdirSync(join(dir, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm asset emitted: ${assets.join(', ')}`);
  const stub = await startMerchantStub({ 'v-1': { params: {}, states: ['SUCCESS'] } }, { '/': join(dir, 'dist') });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${stub.baseUrl}/index.html`);
    const result = await page.evaluate(() => window.smoke);
    assert.deepEqual(result, { env: 'desktop-browser', svg: true, paid: true, sameBuild: true });
    assert.equal(await page.textContent('#out'), 'paid');
  } finally {
    await browser.close();
    await stub.close();
  }
});
