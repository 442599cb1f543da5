// The ESM entries of the OPTIMISED package in headless Chromium (playwright-core driving the
// Debian /usr/bin/chromium; no browser download):
// - `web`: the .wasm fetched next to the glue (instantiate time measured) and a desktop pay()
//   that shows the QR and flips to paid; `init(source)` with an explicit URL and with bytes;
// - `slim`: nothing works before `init(source)`, then URL / bytes / Module sources;
// - confirmation polling restarts at once on `pageshow` / `visibilitychange` → visible after
//   an H5 redirect (the payer is back from WeChat's cashier);
// - JSAPI waits for `WeixinJSBridgeReady` when the bridge is injected late, and gives up with
//   BRIDGE_TIMEOUT when it never comes.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { jsapiBundle, startMerchantStub } from './merchant-stub.mjs';

const pkgDir = fileURLToPath(new URL('../dist/pkg/', import.meta.url));
const pageDir = fileURLToPath(new URL('./page/', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const H5_URL = 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=123';
// The web entry's own default location of the main module (what `init()` without a source fetches).
const DEFAULT_WASM = '/pkg/esm/wasm/web/wxpay_wasm_bg.wasm';

let stub;
let browser;
before(async () => {
  mkdirSync(pageDir, { recursive: true });
  writeFileSync(
    `${pageDir}index.html`,
    '<!doctype html><meta charset="utf-8"><title>wxpay-client smoke</title><div id="qr"></div><p id="status">loading</p>\n',
  );
  stub = await startMerchantStub(
    {
      'desk-1': { params: { codeUrl: 'weixin://wxpay/bizpayurl?pr=Desk001' }, states: ['NOTPAY', 'SUCCESS'] },
      'slim-1': { params: { codeUrl: 'weixin://wxpay/bizpayurl?pr=Slim001' }, states: ['SUCCESS'] },
      // Three unpaid answers, then paid: the 4th query is the one a resume must bring forward.
      'h5-pageshow': { params: { h5Url: H5_URL }, states: ['NOTPAY', 'NOTPAY', 'NOTPAY', 'SUCCESS'] },
      'h5-visible': { params: { h5Url: H5_URL }, states: ['NOTPAY', 'NOTPAY', 'NOTPAY', 'SUCCESS'] },
      'bridge-late': { params: jsapiBundle(), states: ['SUCCESS'] },
      'bridge-never': { params: jsapiBundle(), states: ['NOTPAY'] },
    },
    // `/alt/` serves the package's wasm files from somewhere the entries would never look by
    // themselves, so a request there proves an explicit `init(source)` was used.
    { '/pkg/': pkgDir, '/page/': pageDir, '/alt/': `${pkgDir}esm/wasm/` },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await stub?.close();
});

/** A fresh page (fresh module instances) on the stub's origin; collects errors and .wasm requests. */
async function open({ expect404 = [] } = {}) {
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000);
  const errors = [];
  const wasmRequests = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    const url = m.location()?.url ?? '';
    if (m.type() !== 'error' || /favicon/.test(url)) return;
    if (/Failed to load resource.*404/.test(m.text()) && expect404.some((p) => url.endsWith(p))) return;
    errors.push(`${m.text()} ${url}`);
  });
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) wasmRequests.push(path);
  });
  await page.goto(`${stub.baseUrl}/page/index.html`);
  return { page, errors, wasmRequests };
}

const skip = !existsSync(CHROMIUM) && 'no chromium';

describe('web entry', { skip }, () => {
  test('init, detect, desktop QR flow confirmed by polling', async () => {
    const { page, errors, wasmRequests } = await open();
    const result = await page.evaluate(async () => {
      const t0 = performance.now();
      const mod = await import('/pkg/esm/entries/web.js');
      const t1 = performance.now();
      await mod.init();
      const t2 = performance.now();
      const client = mod.createClient({ baseUrl: location.origin });
      const env = await client.detect();
      const r = await client.pay({
        orderId: 'desk-1',
        timeoutMs: 20_000,
        onQrCode: ({ svg }) => {
          document.getElementById('qr').innerHTML = svg;
        },
      });
      document.getElementById('status').textContent = r.paid ? 'paid' : r.state;
      let code = null;
      try {
        await client.qrSvg('');
      } catch (e) {
        code = e.code;
      }
      return { importMs: t1 - t0, initMs: t2 - t1, env, paid: r.paid, channel: r.channel, polls: r.polls, code };
    });
    assert.equal(result.env, 'desktop-browser');
    assert.equal(result.channel, 'native');
    assert.equal(result.paid, true);
    assert.equal(result.code, 'PARAM_MISSING');
    assert.equal(await page.locator('#qr svg').count(), 1);
    assert.equal(await page.textContent('#status'), 'paid');
    assert.deepEqual(wasmRequests, [DEFAULT_WASM, '/pkg/esm/wasm/qr/wxpay_qr_bg.wasm']);
    assert.deepEqual(errors, []);
    const shot = fileURLToPath(new URL('../test-results/', import.meta.url));
    mkdirSync(shot, { recursive: true });
    await page.screenshot({ path: `${shot}web-desktop-qr.png` });
    writeFileSync(`${shot}chromium-timing.json`, JSON.stringify(result, null, 2));
    console.log(`# chromium: wasm fetch+instantiate ${result.initMs.toFixed(1)} ms (module import ${result.importMs.toFixed(1)} ms)`);
    await page.close();
  });

  test('init(source) with an explicit URL loads from there, not from the default location', async () => {
    const { page, errors, wasmRequests } = await open();
    const out = await page.evaluate(async () => {
      const mod = await import('/pkg/esm/entries/web.js');
      await mod.init(new URL('/alt/web/wxpay_wasm_bg.wasm', location.href));
      const client = mod.createClient({ baseUrl: location.origin });
      return { env: await client.detect() };
    });
    assert.deepEqual(out, { env: 'desktop-browser' });
    assert.deepEqual(wasmRequests, ['/alt/web/wxpay_wasm_bg.wasm']);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('init(source) with bytes fetches no wasm itself; a later createClient uses that core', async () => {
    const { page, errors, wasmRequests } = await open();
    const out = await page.evaluate(async () => {
      const bytes = new Uint8Array(await (await fetch('/alt/web/wxpay_wasm_bg.wasm')).arrayBuffer());
      const mod = await import('/pkg/esm/entries/web.js');
      await mod.init(bytes);
      const client = mod.createClient({ baseUrl: location.origin });
      return { env: await client.detect() };
    });
    assert.deepEqual(out, { env: 'desktop-browser' });
    // Only the page's own fetch of the bytes: the entry never went to its default URL.
    assert.deepEqual(wasmRequests, ['/alt/web/wxpay_wasm_bg.wasm']);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('slim entry', { skip }, () => {
  test('refuses to work before init(), then loads the core and the QR module from URLs', async () => {
    const { page, errors, wasmRequests } = await open({ expect404: ['/alt/missing.wasm'] });
    const out = await page.evaluate(async () => {
      const mod = await import('/pkg/esm/entries/slim.js');
      const client = mod.createClient({ baseUrl: location.origin });
      const fail = async (p) => {
        try {
          await p;
          return 'resolved';
        } catch (e) {
          return { code: e.code, wx: e instanceof mod.WxPayError, message: e.message };
        }
      };
      const beforeInit = await fail(client.detect());
      const payBeforeInit = await fail(client.pay({ orderId: 'slim-1', onQrCode: () => undefined }));
      const noSource = await fail(mod.init());
      const badUrl = await fail(mod.init('/alt/missing.wasm'));
      await mod.init('/alt/web/wxpay_wasm_bg.wasm'); // a failed init can be retried
      const env = await client.detect();
      const qrBeforeInitQr = await fail(client.qrSvg('weixin://wxpay/bizpayurl?pr=x'));
      await mod.initQr(new URL('/alt/qr/wxpay_qr_bg.wasm', location.href));
      const shown = [];
      const r = await client.pay({ orderId: 'slim-1', onQrCode: (q) => shown.push(q.svg), timeoutMs: 10_000 });
      return { beforeInit, payBeforeInit, noSource, badUrl, env, qrBeforeInitQr, svg: shown.length === 1 && shown[0].includes('<svg'), paid: r.paid };
    });
    assert.equal(out.beforeInit.code, 'WASM_LOAD');
    assert.equal(out.beforeInit.wx, true);
    assert.match(out.beforeInit.message, /call init\(\)/);
    assert.equal(out.payBeforeInit.code, 'WASM_LOAD');
    assert.equal(out.noSource.code, 'OPTION_MISSING');
    assert.equal(out.badUrl.code, 'WASM_LOAD');
    assert.equal(out.env, 'desktop-browser');
    assert.equal(out.qrBeforeInitQr.code, 'QR_UNAVAILABLE');
    assert.equal(out.svg, true);
    assert.equal(out.paid, true);
    assert.deepEqual(wasmRequests, ['/alt/missing.wasm', '/alt/web/wxpay_wasm_bg.wasm', '/alt/qr/wxpay_qr_bg.wasm']);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('init with bytes and initQr with an ArrayBuffer; no wasm fetched by the entry', async () => {
    const { page, errors, wasmRequests } = await open();
    const out = await page.evaluate(async () => {
      const get = async (p) => (await fetch(p)).arrayBuffer();
      const [core, qr] = await Promise.all([get('/alt/web/wxpay_wasm_bg.wasm'), get('/alt/qr/wxpay_qr_bg.wasm')]);
      const mod = await import('/pkg/esm/entries/slim.js');
      await mod.init(new Uint8Array(core));
      await mod.initQr(qr);
      const client = mod.createClient({ baseUrl: location.origin });
      return { env: await client.detect(), svg: (await client.qrSvg('weixin://wxpay/bizpayurl?pr=y')).includes('<svg') };
    });
    assert.deepEqual(out, { env: 'desktop-browser', svg: true });
    assert.deepEqual(wasmRequests.sort(), ['/alt/qr/wxpay_qr_bg.wasm', '/alt/web/wxpay_wasm_bg.wasm']);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('init with a compiled WebAssembly.Module', async () => {
    const { page, errors } = await open();
    const out = await page.evaluate(async () => {
      const module = await WebAssembly.compileStreaming(fetch('/alt/web/wxpay_wasm_bg.wasm'));
      const mod = await import('/pkg/esm/entries/slim.js');
      await mod.init(module);
      return { env: await mod.createClient({ baseUrl: location.origin }).detect() };
    });
    assert.deepEqual(out, { env: 'desktop-browser' });
    assert.deepEqual(errors, []);
    await page.close();
  });
});

/**
 * Runs an H5 pay() in the page (the redirect is captured, so the page stays) and, once three
 * status queries have been answered NOTPAY, lets `resume` (run in the page) play the payer's
 * return. Query times are taken by a transport wrapped around the package's fetch transport.
 */
async function h5Return(orderId, resume) {
  const { page, errors } = await open();
  const out = await page.evaluate(
    async ({ orderId, resume }) => {
      const mod = await import('/pkg/esm/entries/web.js');
      const queries = [];
      let third;
      const thirdAnswered = new Promise((r) => (third = r));
      const http = mod.fetchTransport();
      const transport = async (req) => {
        const isQuery = req.method === 'GET';
        if (isQuery) queries.push(performance.now());
        const res = await http(req);
        if (isQuery && queries.length === 3) third();
        return res;
      };
      const visits = [];
      const location = { href: window.location.href, assign: (u) => visits.push(u) };
      const client = mod.createClient({ baseUrl: window.location.origin, transport, platform: { location } });
      const paying = client.pay({ orderId, channel: 'h5', environment: 'other-mobile-browser', timeoutMs: 60_000 });
      await thirdAnswered;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      // eslint-disable-next-line no-new-func
      const steps = await new Function('sleep', 'queries', `return (${resume})(sleep, queries);`)(sleep, queries);
      const r = await paying;
      return { queries, steps, visits: visits.length, paid: r.paid, state: r.state, polls: r.polls };
    },
    { orderId, resume: resume.toString() },
  );
  assert.deepEqual(errors, []);
  await page.close();
  return out;
}

describe('confirmation polling after an H5 return', { skip }, () => {
  // The h5-return policy waits 1.5 s, 2.25 s, 3.375 s… (at most 20 % less with jitter), so
  // after the third query the loop would sleep at least 2.7 s. A query within a second of the
  // event can only come from the resume.
  test('pageshow (persisted, bfcache) queries at once', async () => {
    const out = await h5Return('h5-pageshow', async (sleep) => {
      await sleep(300);
      const at = performance.now();
      window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
      return { resumedAt: at };
    });
    assert.equal(out.visits, 1);
    assert.equal(out.paid, true);
    assert.equal(out.queries.length, 4);
    const [, , q3, q4] = out.queries;
    assert.ok(q4 - out.steps.resumedAt < 1_000, `query ${(q4 - out.steps.resumedAt).toFixed(0)} ms after pageshow`);
    assert.ok(q4 - q3 < 2_000, `gap ${(q4 - q3).toFixed(0)} ms: the policy's own wait would have been ≥ 2.7 s`);
  });

  test('visibilitychange: hidden does nothing, visible queries at once', async () => {
    const out = await h5Return('h5-visible', async (sleep, queries) => {
      const setVisibility = (v) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => v });
        document.dispatchEvent(new Event('visibilitychange'));
      };
      await sleep(200);
      setVisibility('hidden');
      await sleep(600);
      const whileHidden = queries.length;
      const at = performance.now();
      setVisibility('visible');
      return { whileHidden, resumedAt: at };
    });
    assert.equal(out.steps.whileHidden, 3, 'a page going to the background must not trigger a query');
    assert.equal(out.paid, true);
    assert.equal(out.queries.length, 4);
    const [, , q3, q4] = out.queries;
    assert.ok(q4 - out.steps.resumedAt < 1_000, `query ${(q4 - out.steps.resumedAt).toFixed(0)} ms after visible`);
    assert.ok(q4 - q3 < 2_200, `gap ${(q4 - q3).toFixed(0)} ms: the policy's own wait would have been ≥ 2.7 s`);
  });
});

describe('WeixinJSBridge', { skip }, () => {
  test('injected after pay() was called: waits for WeixinJSBridgeReady, then invokes it', async () => {
    const { page, errors } = await open();
    const out = await page.evaluate(async () => {
      const mod = await import('/pkg/esm/entries/web.js');
      const client = mod.createClient({ baseUrl: location.origin });
      const invoked = [];
      let settled = false;
      const paying = client.pay({ orderId: 'bridge-late', channel: 'jsapi', environment: 'we-chat-browser', timeoutMs: 10_000 });
      paying.then(() => (settled = true), () => (settled = true));
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      await sleep(500);
      const settledBeforeBridge = settled;
      window.WeixinJSBridge = {
        invoke(name, params, cb) {
          invoked.push({ name, appId: params.appId, at: performance.now() });
          setTimeout(() => cb({ err_msg: 'get_brand_wcpay_request:ok' }), 1);
        },
      };
      // The bridge object alone is not the signal; WeChat announces it with the event.
      await sleep(300);
      const invokedBeforeEvent = invoked.length;
      const readyAt = performance.now();
      document.dispatchEvent(new Event('WeixinJSBridgeReady'));
      const r = await paying;
      return { settledBeforeBridge, invokedBeforeEvent, invoked, readyAt, paid: r.paid, outcome: r.client.outcome };
    });
    assert.equal(out.settledBeforeBridge, false, 'pay() must wait for the bridge');
    assert.equal(out.invokedBeforeEvent, 0);
    assert.equal(out.invoked.length, 1);
    assert.equal(out.invoked[0].name, 'getBrandWCPayRequest');
    assert.equal(out.invoked[0].appId, 'wx8888888888888888');
    assert.ok(out.invoked[0].at >= out.readyAt);
    assert.deepEqual([out.paid, out.outcome], [true, 'ok']);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('never injected: BRIDGE_TIMEOUT after the wait, nothing invoked', async () => {
    const { page, errors } = await open();
    const out = await page.evaluate(async () => {
      const mod = await import('/pkg/esm/entries/web.js');
      const client = mod.createClient({ baseUrl: location.origin });
      const t0 = performance.now();
      try {
        await client.pay({ orderId: 'bridge-never', channel: 'jsapi', environment: 'we-chat-browser' });
        return { resolved: true };
      } catch (e) {
        return { code: e.code, wx: e instanceof mod.WxPayError, message: e.message, ms: performance.now() - t0 };
      }
    });
    assert.equal(out.code, 'BRIDGE_TIMEOUT', JSON.stringify(out));
    assert.equal(out.wx, true);
    assert.match(out.message, /WeixinJSBridgeReady/);
    assert.ok(out.ms >= 9_500, `gave up after ${out.ms} ms`);
    assert.equal(stub.log.filter((l) => l.url === '/api/orders/bridge-never').length, 0, 'no confirmation without a payment attempt');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
