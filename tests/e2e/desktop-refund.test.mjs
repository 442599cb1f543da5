// (3) Desktop: the Native QR code appears; the simulator "scans" and pays; the page flips to
// paid by itself. (4) A refund from the admin view reaches "refunded" after the refund
// notification. (5) The payment notification is dropped: the page still reaches "paid"
// through the server's status query (and neither the notification nor the worker did it).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ARTIFACTS, buy, deliveriesFor, expectStatus, launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;

// The reconciliation worker keeps running but only claims orders older than an hour, so in
// this file an order can only learn it was paid from a notification or from the status
// endpoint's own query to WeChat (scenario 5 tells them apart).
const WORKER_PENDING_AFTER_SECS = 3600;

before(async () => {
  server = await startServer({ env: { WXPAY_WORKER__PENDING_AFTER_SECS: String(WORKER_PENDING_AFTER_SECS) } });
  browser = await launchBrowser();
}, { timeout: 90_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
}, { timeout: 30_000 });

/** Desktop page up to the QR code; returns the order id. */
async function showQr(s) {
  const id = await s.step('order created', () => buy(s.page, server.url));
  await s.step('environment is a desktop browser', async () => {
    assert.equal((await s.page.textContent('#env')).trim(), 'desktop-browser');
  });
  await s.step('QR code appears', async () => {
    await s.page.click('#pay');
    await s.page.waitForSelector('#qr svg');
    const codeUrl = await s.page.getAttribute('#qr', 'data-code-url');
    const order = await server.sim('GET', `/orders/${id}`);
    assert.equal(order.trade_type, 'NATIVE');
    assert.equal(order.code_url, codeUrl, 'the QR shows the simulator order’s code_url');
    const scan = new URL(await s.page.getAttribute('#scan-link', 'href'));
    assert.equal(scan.origin, server.simUrl);
  });
  return id;
}

async function scanAndPay(s, id) {
  await s.step('the simulator scans and pays; the page flips to paid by itself', async () => {
    await server.sim('POST', `/orders/${id}/pay`);
    await expectStatus(s.page, 'paid', 45_000);
  });
}

test('desktop: Native QR, paid from the phone, the page notices', { timeout: 120_000 }, async () => {
  const s = await openPage(browser, { name: 'desktop-native', kind: 'desktop' });
  try {
    const id = await showQr(s);
    await scanAndPay(s, id);
    await s.step('the payment notification was delivered and acknowledged', async () => {
      const d = await deliveriesFor(server, id);
      assert.ok(d.some((x) => x.event_type === 'TRANSACTION.SUCCESS' && x.status === 'acknowledged'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
    });
  } finally {
    await s.close();
  }
});

test('admin: refund reaches "refunded" after the refund notification', { timeout: 120_000 }, async () => {
  const s = await openPage(browser, { name: 'admin-refund', kind: 'desktop' });
  try {
    const id = await showQr(s);
    // This time the way a developer without a phone does it: the simulator's scan page,
    // linked under the QR code.
    await s.step('pay on the simulator’s scan page; the shop page flips to paid', async () => {
      const [scan] = await Promise.all([s.context.waitForEvent('page'), s.page.click('#scan-link')]);
      await scan.waitForLoadState();
      await scan.screenshot({ path: join(ARTIFACTS, 'admin-refund-scan-page.png') });
      await scan.click('#pay');
      await scan.waitForSelector('[data-result="pay"]');
      await scan.close();
      await expectStatus(s.page, 'paid', 45_000);
    });
    const row = `tr[data-order="${id}"]`;
    await s.step('admin view lists the paid order', async () => {
      await s.page.goto(`${server.url}/?view=admin`);
      await s.page.waitForSelector(`${row} .state[data-state="paid"]`);
    });
    await s.step('the payer’s own session cannot refund (403 admin_required)', async () => {
      const answer = await s.page.evaluate(async (no) => {
        const res = await fetch(`/api/orders/${encodeURIComponent(no)}/refunds`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${localStorage.getItem('wxpay-demo.token')}` },
          body: JSON.stringify({ amount_fen: 1 }),
        });
        return { status: res.status, body: await res.json() };
      }, id);
      assert.equal(answer.status, 403, JSON.stringify(answer));
      assert.equal(answer.body.error.code, 'admin_required');
    });
    await s.step('refund button (with the admin token) → refunded', async () => {
      await s.page.click(`${row} button.refund`);
      await s.page.waitForSelector(`${row} .state[data-state="refunded"]`, { timeout: 60_000 });
      assert.equal(await s.page.locator(`${row} button.refund`).count(), 0);
    });
    await s.step('the refund notification was delivered and acknowledged', async () => {
      const d = await deliveriesFor(server, id);
      assert.ok(d.some((x) => x.event_type === 'REFUND.SUCCESS' && x.status === 'acknowledged'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
    });
    await s.step('the admin view reconciles today against the bill: no differences', async () => {
      // Move the simulator's bill clock to 10:01 (+08:00) tomorrow, when WeChat has made today's bill.
      const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
      const [y, m, d] = today.split('-').map(Number);
      const readyAt = Date.UTC(y, m - 1, d + 1, 2, 0, 0) / 1000;
      await server.sim('POST', '/bill-clock', { offset_secs: Math.ceil(readyAt - Date.now() / 1000) + 60 });
      await s.page.goto(`${server.url}/?view=admin`);
      await s.page.fill('#reconcile-date', today);
      await s.page.click('#reconcile-run');
      const run = s.page.locator('#reconciliations [data-run]').first();
      await run.waitFor();
      const text = await run.textContent();
      assert.match(text ?? '', new RegExp(`${today} reconciled .* 0 differences`), text ?? '');
    });
    await s.step('the result page says refunded too', async () => {
      await s.page.goto(`${server.url}/?view=result&order=${id}`);
      await expectStatus(s.page, 'refunded');
    });
  } finally {
    await s.close();
  }
});

test('dropped payment notification: the page still reaches paid through the status query', { timeout: 120_000 }, async () => {
  const s = await openPage(browser, { name: 'dropped-notification', kind: 'desktop' });
  try {
    const orderCreatedAt = Date.now();
    const id = await showQr(s);
    // Every order query the server sends the simulator from here on consumes one of these
    // (zero-delay, otherwise harmless) faults, so the count left says how many it sent.
    const COUNTED = 1000;
    await s.step('drop the next notification; count the server’s order queries', async () => {
      await server.sim('POST', '/faults/notify', { drop: 1 });
      await server.sim('POST', '/faults', { endpoint: 'v3.query', kind: 'latency', count: COUNTED, delay_ms: 0 });
    });
    await scanAndPay(s, id);
    // Paid on the server, yet the notification never arrived and the worker may not touch an
    // order this young: only the status endpoint's query can have told it. Check it did query.
    await s.step('paid through the status query: notification dropped, WeChat queried', async () => {
      const d = await deliveriesFor(server, id);
      assert.ok(d.length > 0 && d.every((x) => x.status === 'dropped'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
      const faults = await server.sim('GET', '/faults');
      const left = faults.api?.['v3.query']?.[0]?.count;
      assert.equal(typeof left, 'number', `the counting fault is gone: ${JSON.stringify(faults)}`);
      assert.ok(COUNTED - left >= 1, `the server never queried WeChat for the order (${left} of ${COUNTED} left)`);
      const ageSecs = (Date.now() - orderCreatedAt) / 1000;
      assert.ok(ageSecs < WORKER_PENDING_AFTER_SECS, `order ${ageSecs} s old: the worker could have claimed it`);
    });
  } finally {
    await server.sim('DELETE', '/faults').catch(() => undefined);
    await s.close();
  }
});
