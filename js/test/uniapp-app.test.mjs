// uni-app App (Android-like: WebAssembly present, no window): the `uniapp` entry loads the
// module over HTTP and pays with uni.requestPayment({ provider, orderInfo }) — the APP shape.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startMerchantStub } from './merchant-stub.mjs';
import { appBundle, makeUni } from './uni-runtime.mjs';

const wasmDir = fileURLToPath(new URL('../dist/pkg/esm/wasm/mp/', import.meta.url));
const uni = makeUni('app');
globalThis.uni = uni;
const sdk = await import('../dist/pkg/esm/entries/uniapp.js');

let stub;
before(async () => {
  stub = await startMerchantStub(
    { a1: { params: () => appBundle(), states: ['SUCCESS'] }, a2: { params: () => appBundle(), states: ['NOTPAY'] } },
    { '/static/wxpay/': wasmDir },
  );
  await sdk.init({ wasmUrl: `${stub.baseUrl}/static/wxpay/wxpay_wasm_bg.wasm` });
});
after(() => stub.close());

test('App: orderInfo with the lower-case APP fields, confirmed by the server', async () => {
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  const r = await client.pay({ orderId: 'a1', timeoutMs: 5_000 });
  assert.deepEqual([r.environment, r.channel, r.paid], ['uni-app', 'app', true]);
  const call = uni.payCalls.at(-1);
  assert.equal(call.provider, 'wxpay');
  assert.equal(call.orderInfo.partnerid, '1900000109');
  assert.equal(call.orderInfo.package, 'Sign=WXPay');
  assert.equal(call.orderInfo.timestamp, '1700000000');
  assert.equal('timeStamp' in call, false);
  const payReq = stub.log.find((l) => l.url === '/api/orders/a1/pay');
  assert.deepEqual(JSON.parse(payReq.body), { channel: 'app' });
});

test('App: the OpenSDK user-cancel code is normalised to cancel', async () => {
  uni.payScript = () => ({ cb: 'fail', res: { errMsg: 'requestPayment:fail [payment微信:-2]User canceled', errCode: -100 } });
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  const r = await client.pay({ orderId: 'a2', timeoutMs: 1_200 });
  assert.deepEqual([r.client.outcome, r.client.errCode, r.paid, r.state], ['cancel', -2, false, 'NOTPAY']);
});
