// examples/miniprogram, run for real: its app.js, utils and pages are loaded into a small
// simulated mini-program logic layer (App/Page/getApp/wx, WXWebAssembly reading the
// `.wasm.br` from the package path that 构建 npm produces) and driven like the framework
// would (onLoad, taps, navigation), against the wxpay-server demo (--demo).
// `wx.login` codes come from the server's demo route; `wx.requestPayment` plays WeChat
// through the simulator's control API.
//
// The package's own tests (js/test/miniprogram-sim.test.mjs) also strip the Web globals a
// device lacks; this test is about the example's code and flow.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { brotliDecompressSync } from 'node:zlib';

import { ROOT, startServer } from './harness.mjs';

let server;
const app = mkdtempSync(join(tmpdir(), 'wxpay-mp-example-'));

// ---- the code package, laid out as WeChat DevTools' 构建 npm leaves it --------------------
cpSync(join(ROOT, 'examples/miniprogram'), app, {
  recursive: true,
  filter: (src) => !src.includes('node_modules') && !src.includes('miniprogram_npm'),
});
const dist = join(ROOT, 'js/dist/pkg/miniprogram_dist');
cpSync(dist, join(app, 'miniprogram_npm/wxpay-client'), { recursive: true });
// WeChat resolves require('wxpay-client') to miniprogram_npm/; Node looks in node_modules/.
cpSync(dist, join(app, 'node_modules/wxpay-client'), { recursive: true });

// ---- the logic layer -------------------------------------------------------------------
const RealWebAssembly = WebAssembly;
globalThis.WXWebAssembly = {
  instantiate(path, imports) {
    if (typeof path !== 'string' || !path.startsWith('/')) return Promise.reject(new TypeError('WXWebAssembly wants a package path'));
    const file = normalize(join(app, path));
    if (!file.startsWith(app)) return Promise.reject(new Error('outside the code package'));
    let bytes = readFileSync(file);
    if (path.endsWith('.br')) bytes = brotliDecompressSync(bytes);
    return RealWebAssembly.instantiate(bytes, imports);
  },
};

let appDef;
let pageDef;
globalThis.App = (def) => {
  appDef = def;
};
globalThis.getApp = () => appDef;
globalThis.Page = (def) => {
  pageDef = def;
};
const pageDefs = new Map();
const requireFromApp = createRequire(join(app, 'app.js'));

/** Instantiates a page like the framework: own data, setData, methods bound through `this`. */
function openPage(url) {
  const [route, qs = ''] = url.replace(/^\//, '').split('?');
  if (!pageDefs.has(route)) {
    pageDef = undefined;
    requireFromApp(`./${route}.js`);
    assert.ok(pageDef, `${route}.js did not call Page()`);
    pageDefs.set(route, pageDef);
  }
  const def = pageDefs.get(route);
  const page = { ...def, data: structuredClone(def.data ?? {}), route };
  page.setData = (d) => Object.assign(page.data, d);
  const query = Object.fromEntries(qs.split('&').filter(Boolean).map((kv) => kv.split('=')));
  return { page, query };
}

const storage = new Map();
const navigations = [];
let payerChoice = 'pay';
const payments = [];

globalThis.wx = {
  getStorageSync: (k) => storage.get(k) ?? '',
  setStorageSync: (k, v) => storage.set(k, v),
  login({ success, fail }) {
    fetch(`${server.url}/api/demo/login-code`, { method: 'POST' })
      .then((r) => r.json())
      .then((d) => success({ code: d.code, errMsg: 'login:ok' }), (e) => fail({ errMsg: `login:fail ${e}` }));
  },
  request(o) {
    const ctrl = new AbortController();
    const body = o.data === undefined ? undefined : typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
    fetch(o.url, { method: o.method ?? 'GET', headers: o.header, body, signal: ctrl.signal })
      .then(async (res) => {
        const text = await res.text();
        let data = text;
        if (o.dataType === undefined || o.dataType === 'json') {
          try {
            data = JSON.parse(text);
          } catch {
            data = text;
          }
        }
        o.success?.({ statusCode: res.status, data, header: Object.fromEntries(res.headers) });
      })
      .catch((e) => o.fail?.({ errMsg: `request:fail ${e.message}` }));
    return { abort: () => ctrl.abort() };
  },
  requestPayment(o) {
    payments.push(o);
    (async () => {
      for (const k of ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign']) {
        assert.ok(typeof o[k] === 'string' && o[k] !== '', `requestPayment: ${k} missing`);
      }
      // WeChat knows which mini-program is running; the simulator checks the rest.
      const { success, fail, complete, ...params } = o;
      const reply = await server.sim('POST', '/client/pay', { surface: 'mini-program', appid: await miniProgramAppId(), params, choice: payerChoice });
      assert.equal(reply.refused, null, `WeChat refused wx.requestPayment: ${JSON.stringify(reply.refused)}`);
      return reply.result;
    })().then(
      (result) => (result.errMsg === 'requestPayment:ok' ? o.success(result) : o.fail(result)),
      (e) => o.fail({ errMsg: `requestPayment:fail ${e.message}` }),
    );
  },
  navigateTo: ({ url }) => navigations.push(url),
  redirectTo: ({ url }) => navigations.push(url),
  onAppShow() {},
  offAppShow() {},
};

let appId;
async function miniProgramAppId() {
  appId ??= (await server.sim('GET', '/apps')).find((a) => a.kind === 'mini-program').appid;
  return appId;
}

before(async () => {
  server = await startServer();
  requireFromApp('./app.js');
  assert.ok(appDef, 'app.js did not call App()');
  appDef.globalData.baseUrl = server.url;
}, { timeout: 90_000 });

after(async () => {
  await server?.stop();
  rmSync(app, { recursive: true, force: true });
}, { timeout: 30_000 });

/** index → buy → pay page → pay(); returns the result page. */
async function buyAndPay(product) {
  const index = openPage('/pages/index/index');
  await index.page.onLoad(index.query);
  assert.equal(index.page.data.error, '');
  assert.ok(index.page.data.products.some((p) => p.id === product));
  await index.page.buy({ currentTarget: { dataset: { id: product } } });
  const payUrl = navigations.at(-1);
  assert.match(payUrl, /^\/pages\/pay\/pay\?orderId=/);

  const pay = openPage(payUrl);
  await pay.page.onLoad(pay.query);
  assert.equal(pay.page.data.order.state, 'NOTPAY');
  const started = Date.now();
  await pay.page.pay();
  assert.equal(pay.page.data.error, '');
  const resultUrl = navigations.at(-1);
  assert.match(resultUrl, /^\/pages\/result\/result\?/);
  const result = openPage(resultUrl);
  result.page.onLoad(result.query);
  return { result, id: decodeURIComponent(pay.query.orderId), ms: Date.now() - started };
}

test('mini-program example: wx.login, order, wx.requestPayment, the server says paid', { timeout: 60_000 }, async () => {
  payerChoice = 'pay';
  const { result, id, ms } = await buyAndPay('tea');
  console.log(`  mini-program paid in ${ms} ms`);
  assert.equal(result.page.data.cls, 'paid');
  assert.equal((await server.sim('GET', `/orders/${id}`)).trade_state, 'SUCCESS');
  assert.equal(payments.at(-1).appId, undefined, 'wx.requestPayment takes no appId');
});

test('mini-program example: the payer cancels, the result page says not paid', { timeout: 60_000 }, async () => {
  payerChoice = 'cancel';
  const { result, id, ms } = await buyAndPay('coffee');
  console.log(`  mini-program cancel settled in ${ms} ms`);
  assert.equal(result.query.outcome, 'cancel');
  assert.equal(result.page.data.cls, 'not-paid');
  assert.match(result.page.data.note, /cancelled/);
  assert.equal(result.page.data.checking, true, 'the result page keeps asking while unpaid');
  result.page.onUnload();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(result.page.data.checking, false, 'leaving the page stops the polling');
  assert.equal((await server.sim('GET', `/orders/${id}`)).trade_state, 'NOTPAY');
});
