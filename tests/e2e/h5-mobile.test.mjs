// (1) Another mobile browser: pay → the simulator's cashier at h5_url → back to redirect_url.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { buy, expectStatus, launchBrowser, openPage, startServer } from './harness.mjs';

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

const CASHIER = '/cgi-bin/mmpayweb-bin/checkmweb';

async function toCashier(s) {
  const id = await s.step('order created', () => buy(s.page, server.url));
  await s.step('environment is another mobile browser', async () => {
    assert.equal((await s.page.textContent('#env')).trim(), 'other-mobile-browser');
  });
  await s.step('redirected to the cashier at h5_url', async () => {
    await Promise.all([s.page.waitForURL((u) => u.pathname === CASHIER), s.page.click('#pay')]);
    const url = new URL(s.page.url());
    assert.equal(url.origin, server.simUrl);
    const back = new URL(url.searchParams.get('redirect_url'));
    assert.equal(back.origin, server.url);
    assert.equal(back.searchParams.get('order'), id);
    assert.equal((await s.page.getAttribute('[data-out-trade-no]', 'data-out-trade-no')), id);
  });
  return id;
}

const backOnResultPage = (s) => (u) => u.origin === server.url && u.searchParams.get('view') === 'result';

test('H5: confirm on the cashier, back on redirect_url, the page shows paid', { timeout: 120_000 }, async () => {
  const s = await openPage(browser, { name: 'h5-paid', kind: 'mobile' });
  try {
    const id = await toCashier(s);
    await s.step('confirm on the cashier returns to redirect_url', async () => {
      await Promise.all([s.page.waitForURL(backOnResultPage(s)), s.page.click('#pay')]);
    });
    await s.step('result page shows paid', async () => {
      await expectStatus(s.page, 'paid');
      assert.match(await s.page.textContent('#status'), /Paid/);
    });
    await s.step('the simulator has the order paid through H5 (MWEB)', async () => {
      const order = await server.sim('GET', `/orders/${id}`);
      assert.equal(order.trade_state, 'SUCCESS');
      assert.equal(order.trade_type, 'MWEB');
    });
  } finally {
    await s.close();
  }
});

test('H5: cancel on the cashier leaves the order unpaid and the page says so', { timeout: 120_000 }, async () => {
  const s = await openPage(browser, { name: 'h5-cancel', kind: 'mobile' });
  try {
    const id = await toCashier(s);
    await s.step('cancel on the cashier returns to redirect_url', async () => {
      await Promise.all([s.page.waitForURL(backOnResultPage(s)), s.page.click('#cancel')]);
    });
    await s.step('result page shows not paid and keeps checking', async () => {
      await expectStatus(s.page, 'not-paid');
      assert.match(await s.page.textContent('#status'), /Not paid/);
      await s.page.waitForSelector('#polling');
      await s.page.waitForSelector('#pay-again');
    });
    // A few more seconds of polling do not change the verdict.
    await s.step('still not paid a moment later', async () => {
      await s.page.waitForTimeout(3_000);
      assert.equal(await s.page.getAttribute('#status', 'data-state'), 'not-paid');
    });
    await s.step('the simulator has the order unpaid', async () => {
      const order = await server.sim('GET', `/orders/${id}`);
      assert.equal(order.trade_state, 'NOTPAY');
    });
  } finally {
    await s.close();
  }
});
