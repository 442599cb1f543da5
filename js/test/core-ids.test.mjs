// Id drift between the wasm core and the TypeScript layer, on the OPTIMISED module: the
// surface, environment and channel ids the module exports (crates/wxpay-wasm/src/ids.rs, tied
// to the core's enums by its Rust tests) must be exactly the `as const` lists of
// js/src/core/ids.ts from which `Surface`, `Environment` and `CoreChannel` are derived; every
// environment's default channel must be a listed channel that the client maps to a server
// channel; and the module must accept every listed surface.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as glue from '../dist/pkg/esm/wasm/web/wxpay_wasm.js';
import { CORE_CHANNELS, ENVIRONMENTS, SURFACES } from '../dist/pkg/esm/core/ids.js';
import { createClient } from '../dist/pkg/esm/entries/node.js';

glue.initSync({ module: readFileSync(new URL('../dist/pkg/esm/wasm/web/wxpay_wasm_bg.wasm', import.meta.url)) });

const same = (fromWasm, fromTs, what) => {
  const list = fromWasm.split(',');
  assert.deepEqual(list, [...fromTs], `${what}: wasm ${fromWasm} vs ids.ts ${fromTs.join(',')}`);
  assert.equal(new Set(list).size, list.length, `${what}: an id is listed twice`);
};

test('surface, environment and channel ids: the wasm lists and ids.ts are the same, in order', () => {
  same(glue.coreIds('surfaces'), SURFACES, 'surfaces');
  same(glue.coreIds('environments'), ENVIRONMENTS, 'environments');
  same(glue.coreIds('channels'), CORE_CHANNELS, 'channels');
  assert.equal(glue.coreIds('colours'), '');
});

test('the module knows every listed surface (no UNKNOWN_SURFACE)', () => {
  for (const surface of SURFACES) {
    const r = JSON.parse(glue.normaliseResult(surface, '{}'));
    assert.equal(r.outcome, 'unknown', surface);
  }
  assert.throws(() => glue.normaliseResult('telegraph', '{}'), { code: 'UNKNOWN_SURFACE' });
});

test('each environment\'s default channel is a listed channel ("" only for unknown)', () => {
  for (const env of ENVIRONMENTS) {
    const channel = glue.defaultChannel(env);
    if (env === 'unknown') assert.equal(channel, '');
    else assert.ok(CORE_CHANNELS.includes(channel), `${env} → ${channel}`);
  }
  assert.equal(glue.defaultChannel('fax-machine'), '');
});

test('pay({channel: "auto"}) asks the server for the channel the core chose', async () => {
  const asked = [];
  const transport = async (req) => {
    if (req.method === 'POST') {
      asked.push(JSON.parse(req.body).channel);
      return { status: 409, body: JSON.stringify({ error: { code: 'stop_here', message: 'test' } }) };
    }
    return { status: 404, body: '{}' };
  };
  const client = createClient({ baseUrl: 'http://127.0.0.1:1', transport, platform: { location: { href: 'https://x.example/', assign() {} } } });
  const expected = {
    'mini-program': 'miniprogram',
    'we-chat-browser': 'jsapi',
    'other-mobile-browser': 'h5',
    'desktop-browser': 'native',
    'uni-app': 'app',
  };
  for (const [environment, channel] of Object.entries(expected)) {
    await assert.rejects(client.pay({ orderId: 'o', environment, onQrCode: () => {} }), { code: 'HTTP_STATUS' });
    assert.equal(asked.at(-1), channel, environment);
  }
  await assert.rejects(client.pay({ orderId: 'o', environment: 'unknown' }), { code: 'SURFACE_UNAVAILABLE' });
});
