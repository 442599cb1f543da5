// uni-app built for mp-weixin: the `uniapp` entry (ESM, as Vite bundles it) in a simulated
// mini-program runtime. The Vite plugin emits the module into the build output, and the
// entry loads it from there with WXWebAssembly; payment goes through uni.requestPayment.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { after, before, test } from 'node:test';
import { brotliDecompressSync } from 'node:zlib';

import wxpayVitePlugin from '../dist/pkg/esm/entries/vite-plugin.js';
import { jsapiBundle, startMerchantStub } from './merchant-stub.mjs';
import { makeUni } from './uni-runtime.mjs';

// 1. "vite build" for mp-weixin: the plugin emits static/wxpay/wxpay_wasm_bg.wasm.br.
const out = mkdtempSync(join(tmpdir(), 'wxpay-uni-mp-'));
const emitted = [];
process.env.UNI_PLATFORM = 'mp-weixin';
wxpayVitePlugin().generateBundle.call({
  emitFile(f) {
    emitted.push(f.fileName);
    mkdirSync(dirname(join(out, f.fileName)), { recursive: true });
    writeFileSync(join(out, f.fileName), f.source);
    return f.fileName;
  },
});

// 2. The mini-program runtime.
const RealWebAssembly = globalThis.WebAssembly;
for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'Request', 'Response', 'Headers', 'URL', 'FinalizationRegistry', 'crypto']) {
  delete globalThis[name];
}
const loaded = [];
globalThis.WXWebAssembly = {
  instantiate(path, imports) {
    if (typeof path !== 'string' || !path.startsWith('/')) return Promise.reject(new TypeError('package path only'));
    loaded.push(path);
    const bytes = readFileSync(normalize(join(out, path)));
    return RealWebAssembly.instantiate(path.endsWith('.br') ? brotliDecompressSync(bytes) : bytes, imports);
  },
};
const uni = makeUni('mp-weixin');
globalThis.uni = uni;

const sdk = await import('../dist/pkg/esm/entries/uniapp.js');

let stub;
before(async () => {
  stub = await startMerchantStub({ u1: { params: () => jsapiBundle(), states: ['NOTPAY', 'SUCCESS'] }, u2: { params: () => jsapiBundle(), states: ['NOTPAY'] } });
});
after(async () => {
  await stub.close();
  rmSync(out, { recursive: true, force: true });
});

test('the Vite plugin emits only the .wasm.br for mp-weixin', () => {
  assert.deepEqual(emitted, ['static/wxpay/wxpay_wasm_bg.wasm.br']);
});

test('the Vite plugin swaps the pure-JS core for a stub in mp-* and h5 builds only', async () => {
  const entry = '/app/node_modules/wxpay-client/esm/entries/uniapp.js';
  const w2j = '../wasm/w2j/wxpay_wasm_w2j.js';
  const resolve = (platform, options, source = w2j, importer = entry) => {
    process.env.UNI_PLATFORM = platform;
    return wxpayVitePlugin(options).resolveId(source, importer);
  };
  try {
    const stub = resolve('mp-weixin');
    assert.equal(stub, fileURLToPath(new URL('../dist/pkg/esm/entries/no-js-core.js', import.meta.url)));
    assert.equal(resolve('h5'), stub);
    assert.equal(resolve('app'), null, 'the App keeps the fallback (iOS JavaScriptCore has no WebAssembly)');
    assert.equal(resolve('mp-weixin', { jsFallback: true }), null);
    assert.equal(resolve('mp-weixin', {}, w2j, '/app/src/pages/pay.js'), null, 'only our entry is touched');
    assert.equal(resolve('mp-weixin', {}, './other.js'), null);
    const { asmFunc } = await import(stub);
    assert.throws(() => asmFunc(), /cannot run wasm.*jsFallback/);
  } finally {
    process.env.UNI_PLATFORM = 'mp-weixin';
  }
});

test('uni mp-weixin: uni.requestPayment with provider wxpay and top-level fields, confirmed by the server', async () => {
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  const r = await client.pay({ orderId: 'u1', timeoutMs: 10_000 });
  assert.deepEqual([r.environment, r.channel, r.client.outcome, r.state, r.paid], ['mini-program', 'miniprogram', 'ok', 'SUCCESS', true]);
  const call = uni.payCalls.at(-1);
  assert.equal(call.provider, 'wxpay');
  assert.equal(call.timeStamp, '1700000000');
  assert.equal(call.package, 'prepay_id=wx201410272009395522657a690389285100');
  assert.equal('orderInfo' in call, false);
  assert.deepEqual(loaded, ['/static/wxpay/wxpay_wasm_bg.wasm.br']);
});

test('uni mp-weixin cancel → unpaid, with the raw message', async () => {
  uni.payScript = () => ({ cb: 'fail', res: { errMsg: 'requestPayment:fail cancel' } });
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  const r = await client.pay({ orderId: 'u2', timeoutMs: 1_200 });
  assert.deepEqual([r.client.outcome, r.paid], ['cancel', false]);
});

test('QR codes are not part of the uniapp entry', async () => {
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  await assert.rejects(client.qrSvg('x'), { code: 'QR_UNAVAILABLE' });
});
