// The examples as a developer builds them, with the package installed from its packed
// tarball (`npm pack` of the OPTIMISED js/dist/pkg, built by scripts/build-client.sh):
//   - examples/miniprogram through WeChat's own "构建 npm" (miniprogram-ci packNpm): the entry
//     and the .wasm.br must land where the package's loader looks for them, and the loader
//     must instantiate the module from there;
//   - examples/miniprogram type-checked (checkJs, strict) against miniprogram-api-typings
//     together with the declarations 构建 npm produced: no clash with the official global
//     `wx`, the official `wx` accepted as `platform.wx`, no `any` in what the package exports;
//   - examples/h5 type-checked (checkJs, strict, DOM) and built by Vite.
// Run by scripts/test-client.sh after `npm ci` in this folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, normalize, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../..');
const js = join(root, 'js');
const require = createRequire(import.meta.url);
const work = mkdtempSync(join(tmpdir(), 'wxpay-examples-'));
let tarball;

const run = (cmd, args, cwd) => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: e });
  }
};
const files = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });

/** A copy of an example whose `wxpay-client` dependency is the tarball, installed offline. */
function exampleWithTarball(name) {
  const dir = join(work, name);
  cpSync(join(root, 'examples', name), dir, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|miniprogram_npm|dist)(\/|$)/.test(relative(join(root, 'examples', name), src)),
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  manifest.dependencies['wxpay-client'] = `file:${tarball}`;
  delete manifest.devDependencies; // the tools come from js/node_modules and this folder
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  run('npm', ['install', '--offline', '--no-fund', '--no-audit', '--loglevel=error'], dir);
  return dir;
}

before(() => {
  const out = run('npm', ['pack', '--json', '--pack-destination', work], join(js, 'dist/pkg'));
  tarball = join(work, JSON.parse(out)[0].filename);
});
after(() => rmSync(work, { recursive: true, force: true }));

let mp;

test('mini-program: 构建 npm puts the entry and the .wasm.br where the loader finds them', async () => {
  mp = exampleWithTarball('miniprogram');
  const ci = require('miniprogram-ci');
  // packNpm never uploads, but a Project needs a key: a throwaway one.
  const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' });
  const project = new ci.Project({ appid: 'touristappid', type: 'miniProgram', projectPath: mp, privateKey, ignores: ['node_modules/**/*'] });
  const warnings = await ci.packNpm(project, { reporter: () => {} });
  assert.deepEqual(warnings, [], 'packNpm warnings');

  // The whole miniprogram_dist, byte for byte, under miniprogram_npm/wxpay-client.
  const dist = join(mp, 'node_modules/wxpay-client/miniprogram_dist');
  const built = join(mp, 'miniprogram_npm/wxpay-client');
  const listing = (dir) => files(dir).map((f) => relative(dir, f)).sort();
  assert.deepEqual(listing(built), listing(dist));
  for (const f of listing(dist)) assert.ok(readFileSync(join(built, f)).equals(readFileSync(join(dist, f))), `${f} changed by packNpm`);

  // require('wxpay-client') in the mini-program resolves to miniprogram_npm/wxpay-client/index.js;
  // its loader asks WXWebAssembly for DEFAULT_WASM_PATH, a path from the code package's root.
  const entry = require(join(built, 'index.js'));
  assert.ok(existsSync(join(mp, entry.DEFAULT_WASM_PATH)), `${entry.DEFAULT_WASM_PATH} is not in the built package`);
  const asked = [];
  globalThis.WXWebAssembly = {
    instantiate(path, imports) {
      asked.push(path);
      const file = normalize(join(mp, path));
      if (!file.startsWith(mp) || !existsSync(file)) return Promise.reject(new Error(`no file at ${path}`));
      const bytes = readFileSync(file);
      return WebAssembly.instantiate(path.endsWith('.br') ? brotliDecompressSync(bytes) : bytes, imports);
    },
  };
  try {
    await entry.init();
    const env = await entry.createClient({ baseUrl: 'https://shop.example.com', transport: async () => ({ status: 500, body: '{}' }), platform: { wx: { requestPayment() {} } } }).detect();
    assert.equal(env, 'mini-program');
  } finally {
    delete globalThis.WXWebAssembly;
  }
  assert.deepEqual(asked, [entry.DEFAULT_WASM_PATH]);
});

test('mini-program: the example type-checks against miniprogram-api-typings and the built package', { skip: !existsSync(join(here, 'node_modules/miniprogram-api-typings')) && 'npm ci first' }, () => {
  assert.ok(mp && existsSync(join(mp, 'miniprogram_npm/wxpay-client/index.d.ts')), 'the packNpm test must run first');
  // What a TypeScript-checked mini-program project sees: the official typings (global `wx`,
  // `Page`, `getApp`), no DOM, no Node, and `wxpay-client` resolved as WeChat resolves it.
  writeFileSync(
    join(mp, 'probe.ts'),
    `import { createClient, init, isWxPayError, DEFAULT_WASM_PATH, type PayResult, type WxPayErrorCode, type AbortSignalLike } from 'wxpay-client';
type IsAny<T> = 0 extends 1 & T ? true : false;
// The official wx fits platform.wx (the package's structural types do not fight the official ones).
const client = createClient({ baseUrl: 'https://shop.example.com', platform: { wx } });
const paid: Promise<PayResult> = client.pay({ orderId: 'x', channel: 'auto' });
const noAny: [IsAny<typeof client>, IsAny<PayResult>, IsAny<PayResult['state']>, IsAny<WxPayErrorCode>, IsAny<typeof init>, IsAny<typeof DEFAULT_WASM_PATH>, IsAny<AbortSignalLike>] =
  [false, false, false, false, false, false, false];
// @ts-expect-error: orderId is a string (an \`any\` would let this through)
client.pay({ orderId: 1 });
// @ts-expect-error: not a channel of the server's API
client.pay({ orderId: 'x', channel: 'alipay' });
// The official global wx is untouched by the package's declarations.
wx.requestPayment({ timeStamp: '1', nonceStr: 'n', package: 'prepay_id=x', signType: 'RSA', paySign: 's' });
const e: unknown = new Error();
if (isWxPayError(e)) { const code: WxPayErrorCode = e.code; void code; }
void paid; void noAny;
`,
  );
  writeFileSync(
    join(mp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        allowJs: true,
        checkJs: true,
        noEmit: true,
        strict: true,
        skipLibCheck: false,
        target: 'es2020',
        lib: ['es2020'],
        module: 'commonjs',
        moduleResolution: 'node10',
        types: ['miniprogram-api-typings'],
        typeRoots: [join(here, 'node_modules')],
        baseUrl: '.',
        paths: { 'wxpay-client': ['miniprogram_npm/wxpay-client/index.d.ts'] },
      },
      include: ['app.js', 'pages/**/*.js', 'utils/**/*.js', 'probe.ts'],
    }),
  );
  run(join(js, 'node_modules/.bin/tsc'), ['-p', join(mp, 'tsconfig.json')], mp);
});

test('H5: the example type-checks and builds with Vite from the tarball', async () => {
  const h5 = exampleWithTarball('h5');
  // A browser project: DOM typings, bundler resolution of the package's `exports`.
  writeFileSync(
    join(h5, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        allowJs: true,
        checkJs: true,
        noEmit: true,
        strict: true,
        skipLibCheck: false,
        target: 'es2020',
        lib: ['es2022', 'dom', 'dom.iterable'],
        module: 'esnext',
        moduleResolution: 'bundler',
        types: [],
      },
      include: ['src/**/*.js'],
    }),
  );
  run(join(js, 'node_modules/.bin/tsc'), ['-p', join(h5, 'tsconfig.json')], h5);
  const { build } = await import(join(js, 'node_modules/vite/dist/node/index.js'));
  // The example's vite.config.js imports 'vite', which this copy does not install: its build
  // settings are repeated here instead.
  await build({ root: h5, logLevel: 'warn', configFile: false, build: { outDir: join(h5, 'dist'), emptyOutDir: true, target: 'es2020' } });
  const assets = readdirSync(join(h5, 'dist/assets'));
  assert.ok(existsSync(join(h5, 'dist/index.html')), 'no index.html');
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm asset: ${assets.join(', ')}`);
  assert.ok(assets.some((f) => f.endsWith('.js')), `no script: ${assets.join(', ')}`);
});
