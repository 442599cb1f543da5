// (3) Desktop: the Native QR code appears; the simulator "scans" and pays; the page flips to
// paid by itself. (4) A refund from the admin view reaches "refunded" after the refund
// notification. (5) The payment notification is dropped: the page still reaches "paid"
// through the server's status query.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ARTIFACTS, buy, deliveriesFor, expectStatus, launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
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
    const d = await deliveriesFor(server, id);
    assert.ok(d.some((x) => x.event_type === 'TRANSACTION.SUCCESS' && x.status === 'acknowledged'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
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
    const d = await deliveriesFor(server, id);
    assert.ok(d.some((x) => x.event_type === 'REFUND.SUCCESS' && x.status === 'acknowledged'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
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
    const id = await showQr(s);
    await server.sim('POST', '/faults/notify', { drop: 1 });
    await scanAndPay(s, id);
    const d = await deliveriesFor(server, id);
    assert.ok(d.length > 0 && d.every((x) => x.status === 'dropped'), JSON.stringify(d.map((x) => [x.event_type, x.status])));
  } finally {
    await server.sim('DELETE', '/faults').catch(() => undefined);
    await s.close();
  }
});
