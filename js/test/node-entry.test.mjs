// The `node` entry of the OPTIMISED package (js/dist/pkg): the whole pay() state machine
// against a stub merchant server, with injected platform objects for each web surface.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createClient, fetchTransport, WxPayError } from '../dist/pkg/esm/entries/node.js';
import { jsapiBundle, PAY_SIGN, startMerchantStub } from './merchant-stub.mjs';

const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const WECHAT_UA = 'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64';

let stub;
before(async () => {
  stub = await startMerchantStub({
    'jsapi-ok': { params: jsapiBundle(), states: ['NOTPAY', 'SUCCESS'] },
    'jsapi-cancel': { params: jsapiBundle(), states: ['NOTPAY'] },
    'jsapi-bad': { params: jsapiBundle({ timestamp: '1700000000', timeStamp: undefined }), states: ['NOTPAY'] },
    'qr-1': { params: { codeUrl: 'weixin://wxpay/bizpayurl?pr=AbCdEf1' }, states: ['NOTPAY', 'NOTPAY', 'SUCCESS'] },
    'h5-1': { params: { h5Url: 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=123' }, states: ['SUCCESS'] },
    'closed-1': { params: jsapiBundle(), states: ['CLOSED'] },
    'wv-1': { params: jsapiBundle(), states: ['NOTPAY', 'SUCCESS'] },
    // What wxpay-server sends for `jssdk`: the wx.chooseWXPay shape (timestamp, no appId).
    'sdk-1': {
      params: () => {
        const { appId: _appId, timeStamp, ...rest } = jsapiBundle();
        return { ...rest, timestamp: timeStamp };
      },
      states: ['SUCCESS'],
    },
    // A server that signs one getBrandWCPayRequest bundle (timeStamp) for both browser surfaces.
    'sdk-2': { params: () => jsapiBundle(), states: ['SUCCESS'] },
  });
});
after(() => stub.close());

function bridgeSaying(errMsg, seen) {
  return {
    invoke(name, params, cb) {
      seen?.push({ name, params });
      setTimeout(() => cb({ err_msg: errMsg }), 1);
    },
  };
}

describe('node entry', () => {
  test('detects the environment through the wasm core', async () => {
    const desk = createClient({ baseUrl: stub.baseUrl, platform: { userAgent: DESKTOP_UA } });
    // No window in Node: the core says unknown whatever the UA, because it is not a page.
    assert.equal(await desk.detect(), 'unknown');
  });

  test('WeixinJSBridge ok is confirmed by polling, and the bundle reaches the bridge unchanged', async () => {
    const seen = [];
    const client = createClient({
      baseUrl: stub.baseUrl,
      getSession: () => 'tok-1',
      platform: { bridge: bridgeSaying('get_brand_wcpay_request:ok', seen), userAgent: WECHAT_UA },
    });
    const r = await client.pay({ orderId: 'jsapi-ok', channel: 'jsapi', environment: 'we-chat-browser', timeoutMs: 10_000 });
    assert.equal(r.paid, true);
    assert.equal(r.state, 'SUCCESS');
    assert.equal(r.settled, true);
    assert.equal(r.client.outcome, 'ok');
    assert.equal(r.polls, 2);
    assert.equal(seen[0].name, 'getBrandWCPayRequest');
    assert.equal(seen[0].params.appId, 'wx8888888888888888');
    assert.equal(seen[0].params.paySign, PAY_SIGN);
    const pay = stub.log.find((l) => l.url === '/api/orders/jsapi-ok/pay');
    assert.deepEqual(JSON.parse(pay.body), { channel: 'jsapi' });
    assert.equal(pay.auth, 'Bearer tok-1');
  });

  test('a cancel resolves with the server state, not paid', async () => {
    const client = createClient({ baseUrl: stub.baseUrl, platform: { bridge: bridgeSaying('get_brand_wcpay_request:cancel') } });
    const r = await client.pay({ orderId: 'jsapi-cancel', channel: 'jsapi', environment: 'we-chat-browser', timeoutMs: 1_500 });
    assert.equal(r.paid, false);
    assert.equal(r.state, 'NOTPAY');
    assert.equal(r.settled, false);
    assert.equal(r.client.outcome, 'cancel');
    assert.equal(r.client.raw, 'get_brand_wcpay_request:cancel');
  });

  test('a casing mix-up from the server is rejected before WeChat sees it, with a stable code', async () => {
    const seen = [];
    const client = createClient({ baseUrl: stub.baseUrl, platform: { bridge: bridgeSaying('get_brand_wcpay_request:ok', seen) } });
    await assert.rejects(client.pay({ orderId: 'jsapi-bad', channel: 'jsapi', environment: 'we-chat-browser' }), (e) => {
      assert.ok(e instanceof WxPayError);
      assert.equal(e.code, 'MISNAMED_FIELD');
      assert.equal(e.field, 'timeStamp');
      return true;
    });
    assert.equal(seen.length, 0);
  });

  test('desktop: the QR code is rendered by the core and polling flips to paid', async () => {
    const shown = [];
    const client = createClient({ baseUrl: stub.baseUrl });
    const r = await client.pay({ orderId: 'qr-1', environment: 'desktop-browser', onQrCode: (q) => shown.push(q), timeoutMs: 20_000 });
    assert.equal(shown.length, 1);
    assert.match(shown[0].svg, /<svg[^>]*>/);
    assert.equal(shown[0].codeUrl, 'weixin://wxpay/bizpayurl?pr=AbCdEf1');
    assert.equal(r.paid, true);
    assert.equal(r.channel, 'native');
    assert.equal(r.client.outcome, 'unknown');
    assert.equal(r.polls, 3);
  });

  test('desktop without onQrCode is an OPTION_MISSING error', async () => {
    const client = createClient({ baseUrl: stub.baseUrl });
    await assert.rejects(client.pay({ orderId: 'qr-1', environment: 'desktop-browser' }), { code: 'OPTION_MISSING' });
  });

  test('H5: redirects to the cashier with redirect_url, then confirms', async () => {
    const visits = [];
    const location = { href: 'https://shop.example.com/pay?o=h5-1', assign: (u) => visits.push(u) };
    const client = createClient({ baseUrl: stub.baseUrl, platform: { location } });
    const r = await client.pay({ orderId: 'h5-1', environment: 'other-mobile-browser', timeoutMs: 5_000 });
    assert.equal(visits.length, 1);
    assert.equal(
      visits[0],
      'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=123&redirect_url=' +
        encodeURIComponent('https://shop.example.com/pay?o=h5-1'),
    );
    assert.equal(r.paid, true);
    assert.equal(r.channel, 'h5');
  });

  test('H5 to a host that is not WeChat\'s cashier is refused (INVALID_URL) unless configured', async () => {
    const visits = [];
    const location = { href: 'http://127.0.0.1/r', assign: (u) => visits.push(u) };
    const evil = await startMerchantStub({ e: { params: { h5Url: 'https://evil.example.com/checkmweb' }, states: ['NOTPAY'] } });
    try {
      const client = createClient({ baseUrl: evil.baseUrl, platform: { location } });
      await assert.rejects(client.pay({ orderId: 'e', environment: 'other-mobile-browser' }), { code: 'INVALID_URL' });
      assert.equal(visits.length, 0);
      const sim = createClient({ baseUrl: evil.baseUrl, platform: { location }, cashierHosts: ['evil.example.com'] });
      const r = await sim.pay({ orderId: 'e', environment: 'other-mobile-browser', timeoutMs: 1_200 });
      assert.equal(visits.length, 1);
      assert.equal(r.paid, false);
    } finally {
      await evil.close();
    }
  });

  for (const [orderId, shape] of [['sdk-1', 'chooseWXPay'], ['sdk-2', 'getBrandWCPayRequest']]) {
    test(`JS-SDK: wx.config then chooseWXPay with lower-case timestamp (server sends the ${shape} shape)`, async () => {
      const calls = [];
      const jssdk = {
        config: (c) => calls.push(['config', c]),
        ready: (cb) => setTimeout(cb, 1),
        error: () => undefined,
        chooseWXPay: (o) => {
          calls.push(['choose', o]);
          o.success({ errMsg: 'chooseWXPay:ok' });
        },
      };
      const location = { href: `https://shop.example.com/pay/${orderId}#frag`, assign: () => undefined };
      const client = createClient({ baseUrl: stub.baseUrl, platform: { jssdk, location } });
      const r = await client.pay({ orderId, channel: 'jssdk', environment: 'we-chat-browser', timeoutMs: 5_000 });
      const choose = calls.find((c) => c[0] === 'choose')[1];
      assert.equal(choose.timestamp, '1700000000');
      assert.equal('timeStamp' in choose, false);
      assert.equal('appId' in choose, false);
      const config = calls.find((c) => c[0] === 'config')[1];
      assert.deepEqual(config.jsApiList, ['chooseWXPay']);
      assert.equal(config.appId, 'wx8888888888888888');
      const cfgReq = stub.log.findLast((l) => l.url.startsWith('/api/jssdk/config'));
      assert.equal(cfgReq.url, `/api/jssdk/config?url=${encodeURIComponent(`https://shop.example.com/pay/${orderId}`)}`);
      assert.equal(r.client.outcome, 'ok');
      assert.equal(r.paid, true);
    });
  }

  test('mini-program web-view: hands off to the mini-program page, never asks for web params, then confirms', async () => {
    const navs = [];
    const jssdk = { miniProgram: { navigateTo: (o) => { navs.push(o.url); o.success({ errMsg: 'navigateTo:ok' }); } } };
    const location = { href: 'https://shop.example.com/h5/order?id=wv-1', assign: () => undefined };
    const client = createClient({ baseUrl: stub.baseUrl, platform: { jssdk, location } });
    const r = await client.pay({ orderId: 'wv-1', environment: 'mini-program-web-view', miniProgramPayPage: '/pages/pay/index', timeoutMs: 10_000 });
    assert.deepEqual(navs, [`/pages/pay/index?orderId=wv-1&back=${encodeURIComponent(location.href)}`]);
    assert.equal(stub.log.some((l) => l.url === '/api/orders/wv-1/pay'), false);
    assert.deepEqual([r.paid, r.channel], [true, 'miniprogram']);
  });

  test('a final non-paid state settles at once (CLOSED)', async () => {
    const client = createClient({ baseUrl: stub.baseUrl, platform: { bridge: bridgeSaying('get_brand_wcpay_request:ok') } });
    const r = await client.pay({ orderId: 'closed-1', channel: 'jsapi', environment: 'we-chat-browser' });
    assert.deepEqual([r.state, r.paid, r.settled, r.polls], ['CLOSED', false, true, 1]);
  });

  test('AbortSignal stops confirmation with ABORTED', async () => {
    const client = createClient({ baseUrl: stub.baseUrl, platform: { bridge: bridgeSaying('get_brand_wcpay_request:ok') } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(client.pay({ orderId: 'jsapi-cancel', channel: 'jsapi', environment: 'we-chat-browser', signal: ac.signal }), { code: 'ABORTED' });
  });

  test('an unknown order is a HTTP_STATUS error with the status', async () => {
    const client = createClient({ baseUrl: stub.baseUrl, transport: fetchTransport() });
    await assert.rejects(
      client.confirm('nope'),
      (e) => e.code === 'HTTP_STATUS' && e.status === 404 && e.message.includes('order_not_found: no such order'),
    );
  });

  // The client reads the fields of the server's OpenAPI document (PayResponse.params.h5Url /
  // .codeUrl, Order.state) and nothing else: the spellings it used to guess are refused.
  test('only the documented answer fields are read', async () => {
    const H5 = 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=123';
    const odd = await startMerchantStub({
      'h5-snake': { params: { h5_url: H5 }, states: ['NOTPAY'] },
      'h5-mweb': { params: { mweb_url: H5 }, states: ['NOTPAY'] },
      'h5-top': { payBody: { out_trade_no: 'h5-top', channel: 'h5', h5Url: H5 }, states: ['NOTPAY'] },
      'qr-snake': { params: { code_url: 'weixin://wxpay/bizpayurl?pr=x' }, states: ['NOTPAY'] },
      'state-trade': { params: {}, orderBody: (s) => ({ out_trade_no: 'state-trade', trade_state: s }), states: ['SUCCESS'] },
      'state-nested': { params: {}, orderBody: (s) => ({ order: { state: s } }), states: ['SUCCESS'] },
      'state-status': { params: {}, orderBody: (s) => ({ status: s }), states: ['SUCCESS'] },
    });
    try {
      const visits = [];
      const location = { href: 'https://shop.example.com/r', assign: (u) => visits.push(u) };
      const client = createClient({ baseUrl: odd.baseUrl, platform: { location } });
      for (const orderId of ['h5-snake', 'h5-mweb']) {
        await assert.rejects(client.pay({ orderId, environment: 'other-mobile-browser' }), { code: 'SERVER_RESPONSE', message: /params\.h5Url/ });
      }
      await assert.rejects(client.pay({ orderId: 'h5-top', environment: 'other-mobile-browser' }), { code: 'SERVER_RESPONSE', message: /`params`/ });
      await assert.rejects(client.pay({ orderId: 'qr-snake', environment: 'desktop-browser', onQrCode: () => {} }), { code: 'SERVER_RESPONSE', message: /params\.codeUrl/ });
      assert.equal(visits.length, 0);
      for (const orderId of ['state-trade', 'state-nested', 'state-status']) {
        await assert.rejects(client.confirm(orderId, { timeoutMs: 1_000 }), { code: 'SERVER_RESPONSE', message: /`state`/ });
      }
    } finally {
      await odd.close();
    }
  });

  test('qrSvg errors carry the core code', async () => {
    const client = createClient({ baseUrl: stub.baseUrl });
    await assert.rejects(client.qrSvg(''), { code: 'PARAM_MISSING' });
    await assert.rejects(client.qrSvg('x'.repeat(8000)), { code: 'QR_TOO_LONG' });
  });
});
