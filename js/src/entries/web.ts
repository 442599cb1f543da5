/**
 * `wxpay-client` (web): ES module for browsers. The `.wasm` is fetched next to this file on
 * first use (`new URL('wxpay_wasm_bg.wasm', import.meta.url)`, which Vite and webpack 5
 * turn into an asset), or from wherever `init()` is told.
 */

import initGlue, * as glue from '../wasm/web/wxpay_wasm.js';
import { qrRenderer, type CoreBindings, type QrRenderer } from '../core/bindings.js';
import { makeCreateClient } from '../core/client.js';
import { WxPayError } from '../core/errors.js';
import type { ClientOptions, WxPayClient } from '../core/types.js';
import { webRuntime } from './shared-web.js';

export * from './exports.js';

/** What `init` accepts: a URL of the `.wasm`, its bytes, a `Response`, or a compiled module. */
export type WasmSource = string | URL | ArrayBuffer | Uint8Array | Response | WebAssembly.Module;

let started: Promise<CoreBindings> | undefined;

/** Loads the wasm core (optional: `createClient` loads it on first use from the default URL). */
export function init(source?: WasmSource): Promise<void> {
  return load(source).then(() => undefined);
}

function load(source?: WasmSource): Promise<CoreBindings> {
  if (!started) {
    if (typeof WebAssembly === 'undefined') {
      return Promise.reject(new WxPayError('WASM_UNAVAILABLE', 'this browser has no WebAssembly'));
    }
    const arg = source === undefined ? undefined : { module_or_path: source };
    started = initGlue(arg as Parameters<typeof initGlue>[0]).then(
      () => glue as CoreBindings,
      (e: unknown) => {
        started = undefined;
        throw new WxPayError('WASM_LOAD', `loading the wasm core failed: ${String(e)}`, { cause: e });
      },
    );
  }
  return started;
}

let qr: Promise<QrRenderer> | undefined;

/**
 * Loads the QR module (desktop flow only; fetched on first use next to this file, or from
 * `source`). It is a separate module so pages that never show a QR code never download it.
 */
export function initQr(source?: WasmSource): Promise<void> {
  return loadQr(source).then(() => undefined);
}

function loadQr(source?: WasmSource): Promise<QrRenderer> {
  if (!qr) {
    qr = import('../wasm/qr/wxpay_qr.js').then(
      async (m) => {
        await m.default(source === undefined ? undefined : { module_or_path: source as Parameters<typeof m.default>[0] & object });
        return qrRenderer(m.qrSvg);
      },
      (e: unknown) => {
        qr = undefined;
        throw new WxPayError('WASM_LOAD', `loading the QR module failed: ${String(e)}`, { cause: e });
      },
    );
  }
  return qr;
}

/** Creates a payment client. */
export const createClient: (options: ClientOptions) => WxPayClient = makeCreateClient(
  webRuntime(
    () => load(),
    () => loadQr(),
  ),
);
