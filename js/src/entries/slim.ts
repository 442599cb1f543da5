/**
 * `wxpay-client/slim`: the web entry without a default wasm location. The app must call
 * `init()` with the `.wasm` bytes, URL, `Response` or compiled module before paying; useful
 * when the bundler cannot handle `new URL(…, import.meta.url)` or the wasm is served from a CDN.
 */

import initGlue, * as glue from '../wasm/web/wxpay_wasm.js';
import { qrRenderer, type CoreBindings, type QrRenderer } from '../core/bindings.js';
import initQrGlue, { qrSvg } from '../wasm/qr/wxpay_qr.js';
import { makeCreateClient } from '../core/client.js';
import { WxPayError } from '../core/errors.js';
import type { ClientOptions, WxPayClient } from '../core/types.js';
import { webRuntime } from './shared-web.js';

export * from './exports.js';

/** What `init` accepts. */
export type WasmSource = string | URL | ArrayBuffer | Uint8Array | Response | WebAssembly.Module;

let ready: Promise<CoreBindings> | undefined;

/** Loads the wasm core from an explicit source. Must be called before `pay()`. */
export function init(source: WasmSource): Promise<void> {
  if (source === undefined || source === null) {
    return Promise.reject(new WxPayError('OPTION_MISSING', 'slim init() needs the wasm bytes, URL, Response or Module'));
  }
  if (!ready) {
    ready = initGlue({ module_or_path: source as Parameters<typeof initGlue>[0] & object }).then(
      () => glue as CoreBindings,
      (e: unknown) => {
        ready = undefined;
        throw new WxPayError('WASM_LOAD', `loading the wasm core failed: ${String(e)}`, { cause: e });
      },
    );
  }
  return ready.then(() => undefined);
}

let qr: Promise<QrRenderer> | undefined;

/** Loads the QR module (`wxpay_qr_bg.wasm`) from an explicit source; needed for the desktop flow only. */
export function initQr(source: WasmSource): Promise<void> {
  if (!qr) {
    qr = initQrGlue({ module_or_path: source as Parameters<typeof initQrGlue>[0] & object }).then(
      () => qrRenderer(qrSvg),
      (e: unknown) => {
        qr = undefined;
        throw new WxPayError('WASM_LOAD', `loading the QR module failed: ${String(e)}`, { cause: e });
      },
    );
  }
  return qr.then(() => undefined);
}

/** Creates a payment client (call `init()` first, and `initQr()` for the desktop flow). */
export const createClient: (options: ClientOptions) => WxPayClient = makeCreateClient(
  webRuntime(
    () => ready ?? Promise.reject(new WxPayError('WASM_LOAD', 'call init() from wxpay-client/slim before paying')),
    () => qr ?? Promise.reject(new WxPayError('QR_UNAVAILABLE', 'call initQr() from wxpay-client/slim to show QR codes')),
  ),
);
