// A simulated WeChat mini-program logic layer in Node, running the OPTIMISED package's
// `miniprogram_dist` exactly as WeChat's "构建 npm" lays it out (miniprogram_npm/wxpay-client/).
//
// The globals a real device lacks are removed (WebAssembly, TextEncoder, TextDecoder, fetch,
// Request, Response, Headers, URL, FinalizationRegistry, crypto); WXWebAssembly accepts only a
// string path inside the code package (and .wasm.br); `wx.request` talks to a stub merchant
// server over real HTTP; `wx.requestPayment` is scripted per test.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

import { jsapiBundle, startMerchantStub } from './merchant-stub.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageRoot = mkdtempSync(join(tmpdir(), 'wxpay-mp-'));
cpSync(join(here, '../dist/pkg/miniprogram_dist'), join(packageRoot, 'miniprogram_npm/wxpay-client'), { recursive: true });

// ---- the runtime ---------------------------------------------------------------------
const RealWebAssembly = globalThis.WebAssembly;
for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'Request', 'Response', 'Headers', 'URL', 'URLSearchParams', 'FinalizationRegistry', 'crypto']) {
  delete globalThis[name];
}
const instantiated = [];
globalThis.WXWebAssembly = {
  instantiate(path, imports) {
    if (typeof path !== 'string') return Promise.reject(new TypeError('WXWebAssembly.instantiate: path must be a string'));
    if (!path.startsWith('/')) return Promise.reject(new Error(`not an absolute package path: ${path}`));
    if (/^\w+:/.test(path)) return Promise.reject(new Error('not support wxfile: or http: path'));
    const file = normalize(join(packageRoot, path));
    if (!file.startsWith(packageRoot)) return Promise.reject(new Error('outside the package'));
    let bytes;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      return Promise.reject(e);
    }
    if (path.endsWith('.br')) bytes = brotliDecompressSync(bytes);
    instantiated.push(path);
    return RealWebAssembly.instantiate(bytes, imports);
  },
  Memory: RealWebAssembly.Memory,
  Table: RealWebAssembly.Table,
};

let payScript = () => ({ cb: 'success', res: { errMsg: 'requestPayment:ok' } });
const paid = [];
const showHandlers = new Set();
globalThis.wx = {
  requestPayment(o) {
    paid.push(o);
    const { cb, res } = payScript(o);
    setTimeout(() => o[cb](res), 1);
  },
  request(o) {
    const u = o.url.match(/^http:\/\/([^/:]+):(\d+)(\/.*)$/);
    if (!u) return setTimeout(() => o.fail({ errMsg: 'request:fail invalid url' }), 0);
    const req = httpRequest({ host: u[1], port: Number(u[2]), path: u[3], method: o.method, headers: o.header }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => o.success({ statusCode: res.statusCode, data, header: res.headers }));
    });
    req.on('error', (e) => o.fail({ errMsg: `request:fail ${e.message}` }));
    if (o.data !== undefined) req.write(o.data);
    req.end();
    return { abort: () => req.destroy() };
  },
  onAppShow: (h) => showHandlers.add(h),
  offAppShow: (h) => showHandlers.delete(h),
};

const require = createRequire(join(packageRoot, 'app.js'));
const sdk = require('./miniprogram_npm/wxpay-client/index.js');

// ---- the merchant server -------------------------------------------------------------
let stub;
before(async () => {
  stub = await startMerchantStub({
    ok: { params: () => jsapiBundle(), states: ['NOTPAY', 'SUCCESS'] },
    cancel: { params: () => jsapiBundle(), states: ['NOTPAY'] },
    fail: { params: () => jsapiBundle(), states: ['NOTPAY'] },
    unpaid: { params: () => jsapiBundle(), states: ['NOTPAY'] },
    resume: { params: () => jsapiBundle(), states: ['NOTPAY', 'NOTPAY', 'SUCCESS'] },
  });
});
after(async () => {
  await stub.close();
  rmSync(packageRoot, { recursive: true, force: true });
});

describe('mini-program runtime (simulated)', () => {
  test('the runtime really lacks the web globals', () => {
    for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'URL']) assert.equal(typeof globalThis[name], 'undefined', name);
  });

  test('ok → the server confirms SUCCESS; wx.requestPayment gets exactly the five fields', async () => {
    payScript = () => ({ cb: 'success', res: { errMsg: 'requestPayment:ok' } });
    const client = sdk.createClient({ baseUrl: stub.baseUrl, getSession: () => 'mp-session' });
    const r = await client.pay({ orderId: 'ok', timeoutMs: 10_000 });
    assert.equal(r.environment, 'mini-program');
    assert.equal(r.channel, 'miniprogram');
    assert.equal(r.client.outcome, 'ok');
    assert.equal(r.state, 'SUCCESS');
    assert.equal(r.paid, true);
    const call = paid.at(-1);
    assert.deepEqual(Object.keys(call).filter((k) => typeof call[k] !== 'function').sort(), ['nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    assert.equal(typeof call.timeStamp, 'string');
    assert.deepEqual(instantiated, ['/miniprogram_npm/wxpay-client/wxpay_wasm_bg.wasm.br']);
    const payReq = stub.log.find((l) => l.url === '/api/orders/ok/pay');
    assert.deepEqual(JSON.parse(payReq.body), { channel: 'miniprogram' });
    assert.equal(payReq.auth, 'Bearer mp-session');
  });

  test('cancel → not paid, raw message kept', async () => {
    payScript = () => ({ cb: 'fail', res: { errMsg: 'requestPayment:fail cancel' } });
    const client = sdk.createClient({ baseUrl: stub.baseUrl });
    const r = await client.pay({ orderId: 'cancel', timeoutMs: 1_200 });
    assert.deepEqual([r.client.outcome, r.client.raw, r.state, r.paid], ['cancel', 'requestPayment:fail cancel', 'NOTPAY', false]);
  });

  test('fail → not paid; non-ASCII messages survive the text shim both ways', async () => {
    const msg = 'requestPayment:fail 系统错误，错误码：1，支付验证签名失败 🙁';
    payScript = () => ({ cb: 'fail', res: { errMsg: msg } });
    const client = sdk.createClient({ baseUrl: stub.baseUrl });
    const r = await client.pay({ orderId: 'fail', timeoutMs: 1_200 });
    assert.equal(r.client.outcome, 'fail');
    assert.equal(r.client.raw, msg);
    assert.equal(r.paid, false);
  });

  test('ok but the server says unpaid → resolves unpaid and unsettled after the timeout', async () => {
    payScript = () => ({ cb: 'success', res: { errMsg: 'requestPayment:ok' } });
    const client = sdk.createClient({ baseUrl: stub.baseUrl });
    const started = Date.now();
    const r = await client.pay({ orderId: 'unpaid', timeoutMs: 1_500 });
    assert.equal(r.client.outcome, 'ok');
    assert.equal(r.state, 'NOTPAY');
    assert.equal(r.paid, false);
    assert.equal(r.settled, false);
    assert.ok(r.polls >= 2, `polled ${r.polls} times`);
    assert.ok(Date.now() - started >= 1_400);
  });

  test('wx.onAppShow restarts polling at once', async () => {
    payScript = () => ({ cb: 'success', res: { errMsg: 'requestPayment:ok' } });
    const client = sdk.createClient({ baseUrl: stub.baseUrl });
    const p = client.pay({ orderId: 'resume', timeoutMs: 30_000 });
    // Back from WeChat's cashier twice in quick succession: each show wakes the loop.
    await new Promise((r) => setTimeout(r, 200));
    for (const h of showHandlers) h();
    await new Promise((r) => setTimeout(r, 100));
    for (const h of showHandlers) h();
    const started = Date.now();
    const r = await p;
    assert.equal(r.paid, true);
    assert.ok(Date.now() - started < 1_000, 'resumed polls do not wait for the backoff');
  });

  test('a server bundle with the wrong casing never reaches wx.requestPayment', async () => {
    const bad = await startMerchantStub({ b: { params: () => ({ ...jsapiBundle(), timeStamp: undefined, timestamp: 1700000000 }), states: ['NOTPAY'] } });
    try {
      const before = paid.length;
      const client = sdk.createClient({ baseUrl: bad.baseUrl });
      await assert.rejects(client.pay({ orderId: 'b' }), (e) => e instanceof sdk.WxPayError && e.code === 'MISNAMED_FIELD');
      assert.equal(paid.length, before);
    } finally {
      await bad.close();
    }
  });
});
