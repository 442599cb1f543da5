// The `web` entry of the OPTIMISED package in headless Chromium (playwright-core driving the
// Debian /usr/bin/chromium; no browser download): the .wasm is fetched next to the glue,
// instantiated (time measured), and a desktop pay() shows the QR and flips to paid.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startMerchantStub } from './merchant-stub.mjs';

const pkgDir = fileURLToPath(new URL('../dist/pkg/', import.meta.url));
const pageDir = fileURLToPath(new URL('./page/', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let stub;
let browser;
before(async () => {
  mkdirSync(pageDir, { recursive: true });
  writeFileSync(
    `${pageDir}index.html`,
    '<!doctype html><meta charset="utf-8"><title>wxpay-client smoke</title><div id="qr"></div><p id="status">loading</p>\n',
  );
  stub = await startMerchantStub(
    { 'desk-1': { params: { codeUrl: 'weixin://wxpay/bizpayurl?pr=Desk001' }, states: ['NOTPAY', 'SUCCESS'] } },
    { '/pkg/': pkgDir, '/page/': pageDir },
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

test('web entry: init, detect, desktop QR flow confirmed by polling', { skip: !existsSync(CHROMIUM) && 'no chromium' }, async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && !/favicon/.test(m.location()?.url ?? '') && errors.push(`${m.text()} ${m.location()?.url ?? ''}`));
  await page.goto(`${stub.baseUrl}/page/index.html`);
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
  assert.deepEqual(errors, []);
  const shot = fileURLToPath(new URL('../test-results/', import.meta.url));
  mkdirSync(shot, { recursive: true });
  await page.screenshot({ path: `${shot}web-desktop-qr.png` });
  writeFileSync(`${shot}chromium-timing.json`, JSON.stringify(result, null, 2));
  console.log(`# chromium: wasm fetch+instantiate ${result.initMs.toFixed(1)} ms (module import ${result.importMs.toFixed(1)} ms)`);
});
