// Error-code drift between the wasm core and the TypeScript layer: the codes the OPTIMISED
// module says it can throw (`errorCodes()`, i.e. `codes::ALL` in crates/wxpay-wasm/src/error.rs,
// whose Rust tests tie it to the core's validator codes) must be exactly `CORE_ERROR_CODES`,
// from which the `CoreErrorCode` union is derived; and real errors out of the module carry
// codes from that list and keep them through `toWxPayError`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as glue from '../dist/pkg/esm/wasm/web/wxpay_wasm.js';
import { CORE_ERROR_CODES, WxPayError, toWxPayError } from '../dist/pkg/esm/core/errors.js';

glue.initSync({ module: readFileSync(new URL('../dist/pkg/esm/wasm/web/wxpay_wasm_bg.wasm', import.meta.url)) });

test('the wasm error codes and the TypeScript CoreErrorCode list are the same set', () => {
  const fromWasm = glue.errorCodes().split(',');
  assert.deepEqual([...fromWasm].sort(), [...CORE_ERROR_CODES].sort());
  assert.equal(new Set(fromWasm).size, fromWasm.length);
});

test('errors thrown by the wasm carry listed codes, kept by toWxPayError', () => {
  const thrown = (f) => {
    try {
      f();
    } catch (e) {
      return e;
    }
    assert.fail('expected the wasm to throw');
  };
  const cases = [
    [() => glue.formatParams('telegraph', '{}', ''), 'UNKNOWN_SURFACE'],
    [() => glue.formatParams('mini-program', '{', ''), 'BAD_INPUT'],
    [() => glue.formatParams('mini-program', '[]', ''), 'NOT_AN_OBJECT'],
    [() => glue.formatParams('weixin-js-bridge', JSON.stringify({ appId: 'wx8888888888888888', timestamp: '1700000000' }), ''), 'MISNAMED_FIELD'],
    [() => glue.formatParams('h5', JSON.stringify({ h5_url: 'https://evil.example.com/x' }), ''), 'INVALID_URL'],
    [() => glue.qrSvg('x', 0), 'QR_UNAVAILABLE'], // the main module is built without the QR renderer
  ];
  for (const [f, code] of cases) {
    const e = thrown(f);
    assert.equal(e.code, code, e.message);
    assert.ok(CORE_ERROR_CODES.includes(e.code), `${e.code} not in CORE_ERROR_CODES`);
    const w = toWxPayError(e);
    assert.ok(w instanceof WxPayError);
    assert.equal(w.code, code);
  }
});
