// Issue 15, client side: how `pay()` learns that an order is paid. The H5 demo runs in
// headless Chromium as WeChat's browser (JSAPI through the WeixinJSBridge stand-in) against
// the demo server and its embedded simulator. For each payment it counts the page's status
// requests (`GET /api/orders/{no}`) and measures the time from the notification landing at
// the server (the simulator's acknowledged attempt) to the page showing the order as paid.
// Node, the simulator and the browser share one clock.
//
//   node bench/client/confirm.mjs [runs]     (E2E_SERVER_BIN names the server binary)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ROOT, buy, deliveriesFor, expectStatus, launchBrowser, openPage, startServer } from '../../tests/e2e/harness.mjs';

const runs = Number(process.argv[2] ?? 10);
const standIns = await readFile(join(ROOT, 'tests/e2e/wechat-stand-ins.js'), 'utf8');
const server = await startServer();
const browser = await launchBrowser();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results = [];
try {
  for (let i = 0; i < runs; i++) {
    const s = await openPage(browser, { name: `bench-confirm-${i}`, kind: 'wechat', initScript: standIns });
    // The payer pays at once; WeChat's client answers the page as soon as the simulator took
    // the payment, and the notification goes out from there.
    await s.context.exposeBinding('__wxSim', async (_source, kind, payload) => {
      if (kind !== 'bridge:getBrandWCPayRequest') throw new Error(`unexpected WeChat call ${kind}`);
      const reply = await server.sim('POST', '/client/pay', { surface: 'weixin-js-bridge', params: payload, choice: 'pay' });
      if (reply.refused) throw new Error(`WeChat refused: ${JSON.stringify(reply.refused)}`);
      return reply.result;
    });
    try {
      const id = await buy(s.page, server.url);
      const statusPath = `/api/orders/${id}`;
      let statusRequests = 0;
      s.page.on('request', (r) => {
        if (r.method() === 'GET' && new URL(r.url()).pathname === statusPath) statusRequests += 1;
      });
      await s.page.click('#pay');
      await expectStatus(s.page, 'paid', 40_000);
      const shownAt = Date.now();
      const delivery = (await deliveriesFor(server, id)).find((d) => d.status === 'acknowledged');
      const landed = delivery?.attempts?.find((a) => a.status === 200)?.at_ms;
      if (landed === undefined) throw new Error(`no acknowledged notification for ${id}`);
      results.push({ statusRequests, notifyToPaidMs: shownAt - landed });
    } finally {
      await s.close();
    }
  }
} finally {
  await browser.close();
  await server.stop();
}

const requests = results.map((r) => r.statusRequests);
const latencies = results.map((r) => r.notifyToPaidMs);
console.log(JSON.stringify({
  runs: results.length,
  status_requests: { median: median(requests), max: Math.max(...requests) },
  notification_to_paid_ms: { median: median(latencies), max: Math.max(...latencies) },
}));
