// (2) WeChat's browser: JSAPI through WeixinJSBridge and the JS-SDK's chooseWXPay, each paid
// and cancelled. The stand-ins (wechat-stand-ins.js) hand every call to `playWeChat` below.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, buy, expectStatus, launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;
let standIns;

before(async () => {
  standIns = await readFile(join(ROOT, 'tests/e2e/wechat-stand-ins.js'), 'utf8');
  server = await startServer();
  browser = await launchBrowser();
}, { timeout: 90_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
}, { timeout: 30_000 });

const need = (obj, keys, what) => {
  for (const k of keys) assert.ok(typeof obj[k] === 'string' && obj[k] !== '', `${what}: missing ${k} in ${JSON.stringify(obj)}`);
};

/**
 * Plays WeChat for one page: `choice` is what the payer does ('pay' or 'cancel'). The casing
 * each call expects is asserted here; everything WeChat's client itself checks (paySign with
 * the merchant's certificate, the prepay id and its appid, the `wx.config` signature with the
 * current jsapi_ticket) is checked by the simulator's `/__sim/client/…`.
 */
function wechat(choice) {
  const calls = [];
  let configuredAppId;
  const clientPay = async (surface, params, appid) => {
    const reply = await server.sim('POST', '/client/pay', { surface, params, appid, choice });
    assert.equal(reply.refused, null, `WeChat refused the ${surface} call: ${JSON.stringify(reply.refused)}`);
    const order = await server.sim('GET', `/orders/${reply.out_trade_no}`);
    assert.equal(order.trade_type, 'JSAPI');
    return reply.result;
  };
  const handler = async (_source, kind, payload) => {
    calls.push({ kind, payload });
    switch (kind) {
      case 'bridge:getBrandWCPayRequest':
        need(payload, ['appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign'], kind);
        return clientPay('weixin-js-bridge', payload);
      case 'jssdk:config': {
        need(payload, ['appId', 'nonceStr', 'signature', 'url'], kind);
        assert.ok(payload.timestamp !== undefined, 'wx.config: missing timestamp');
        assert.ok(payload.jsApiList.includes('chooseWXPay'));
        const reply = await server.sim('POST', '/client/config', payload);
        if (reply.errMsg === 'config:ok') configuredAppId = payload.appId;
        return reply;
      }
      case 'jssdk:chooseWXPay':
        // The JS-SDK spells it `timestamp` (lower case) and takes no appId.
        need(payload, ['nonceStr', 'package', 'signType', 'paySign'], kind);
        assert.ok(payload.timestamp !== undefined && payload.timeStamp === undefined, 'chooseWXPay wants `timestamp`');
        assert.ok(configuredAppId, 'chooseWXPay before a successful wx.config');
        return clientPay('js-sdk', payload, configuredAppId);
      default:
        throw new Error(`unexpected WeChat call ${kind}`);
    }
  };
  return { calls, handler };
}

async function run({ name, channel, choice }) {
  const w = wechat(choice);
  const s = await openPage(browser, { name, kind: 'wechat', initScript: standIns });
  await s.context.exposeBinding('__wxSim', w.handler);
  try {
    const id = await s.step('order created', () => buy(s.page, server.url));
    await s.step('environment is WeChat’s browser', async () => {
      assert.equal((await s.page.textContent('#env')).trim(), 'we-chat-browser');
      if (channel !== 'auto') await s.page.selectOption('#channel', channel);
    });
    await s.step(`pay (${choice})`, async () => {
      await s.page.click('#pay');
      await expectStatus(s.page, choice === 'pay' ? 'paid' : 'not-paid', 40_000);
    });
    await s.step('WeChat saw the expected calls; the simulator has the order state', async () => {
      const kinds = w.calls.map((c) => c.kind);
      if (channel === 'jssdk') assert.deepEqual(kinds, ['jssdk:config', 'jssdk:chooseWXPay']);
      else assert.deepEqual(kinds, ['bridge:getBrandWCPayRequest']);
      const order = await server.sim('GET', `/orders/${id}`);
      assert.equal(order.trade_state, choice === 'pay' ? 'SUCCESS' : 'NOTPAY');
    });
    if (choice === 'cancel') {
      await s.step('the page says the payer cancelled', async () => {
        assert.match(await s.page.textContent('#note'), /cancel/);
        await s.page.waitForSelector('#pay-again');
      });
    }
  } finally {
    await s.close();
  }
}

test('WeChat browser: JSAPI (WeixinJSBridge) paid', { timeout: 120_000 }, () =>
  run({ name: 'wechat-jsapi-paid', channel: 'auto', choice: 'pay' }));
test('WeChat browser: JSAPI (WeixinJSBridge) cancelled', { timeout: 120_000 }, () =>
  run({ name: 'wechat-jsapi-cancel', channel: 'auto', choice: 'cancel' }));
test('WeChat browser: JS-SDK chooseWXPay paid', { timeout: 120_000 }, () =>
  run({ name: 'wechat-jssdk-paid', channel: 'jssdk', choice: 'pay' }));
test('WeChat browser: JS-SDK chooseWXPay cancelled', { timeout: 120_000 }, () =>
  run({ name: 'wechat-jssdk-cancel', channel: 'jssdk', choice: 'cancel' }));
