// uni-app App on iOS: the logic layer (JavaScriptCore without JIT) has no WebAssembly at all.
// The `uniapp` entry must fall back to the wasm2js build of the same core, chosen
// automatically, and still validate, pay and confirm.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startMerchantStub } from './merchant-stub.mjs';
import { appBundle, makeUni } from './uni-runtime.mjs';

delete globalThis.WebAssembly;
const uni = makeUni('app');
globalThis.uni = uni;
const sdk = await import('../dist/pkg/esm/entries/uniapp.js');

let stub;
before(async () => {
  stub = await startMerchantStub({
    j1: { params: () => appBundle(), states: ['NOTPAY', 'SUCCESS'] },
    j2: { params: () => ({ ...appBundle(), partnerid: undefined, mchid: '1900000109' }), states: ['NOTPAY'] },
  });
});
after(() => stub.close());

test('no WebAssembly: the JS core validates the APP bundle and the order is confirmed', async () => {
  assert.equal(typeof globalThis.WebAssembly, 'undefined');
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  const r = await client.pay({ orderId: 'j1', timeoutMs: 10_000 });
  assert.deepEqual([r.environment, r.channel, r.client.outcome, r.paid], ['uni-app', 'app', 'ok', true]);
  assert.equal(uni.payCalls.at(-1).orderInfo.prepayid, 'wx201410272009395522657a690389285100');
});

test('the JS core reports validation errors with the same codes, and survives large inputs (memory growth)', async () => {
  const client = sdk.createClient({ baseUrl: stub.baseUrl });
  await assert.rejects(client.pay({ orderId: 'j2' }), (e) => e.code === 'MISNAMED_FIELD' && e.field === 'partnerid');
  // Several MB through the core forces the emulated memory to grow; results must stay right.
  const big = 'x'.repeat(3_000_000);
  const c2 = sdk.createClient({ baseUrl: stub.baseUrl, transport: async (req) => ({ status: 200, body: req.method === 'POST' ? JSON.stringify({ params: { ...appBundle(), filler: big } }) : '{"state":"SUCCESS"}' }) });
  const r = await c2.pay({ orderId: 'j3', timeoutMs: 2_000 });
  assert.equal(r.paid, true);
  assert.equal(uni.payCalls.at(-1).orderInfo.sign, appBundle().sign);
});
