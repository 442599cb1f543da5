/**
 * `wxpay-client/node`: for tests, SSR and scripts. Loads the `.wasm` synchronously from the
 * package directory on first use; HTTP goes through the global `fetch` (Node ≥ 18).
 */

import { readFileSync } from 'node:fs';

import * as glue from '../wasm/web/wxpay_wasm.js';
import { qrRenderer, type CoreBindings } from '../core/bindings.js';
import * as qrGlue from '../wasm/qr/wxpay_qr.js';
import { makeCreateClient } from '../core/client.js';
import { WxPayError } from '../core/errors.js';
import type { ClientOptions, WxPayClient } from '../core/types.js';
import { webRuntime } from './shared-web.js';

export * from './exports.js';

let loaded = false;

/** Loads the wasm core now (optional; done on first use). `bytes` overrides the packaged file. */
export function init(bytes?: Uint8Array): void {
  if (loaded) return;
  try {
    const module = bytes ?? readFileSync(new URL('../wasm/web/wxpay_wasm_bg.wasm', import.meta.url));
    glue.initSync({ module });
    loaded = true;
  } catch (e) {
    throw new WxPayError('WASM_LOAD', `loading the wasm core failed: ${String(e)}`, { cause: e });
  }
}

let qrLoaded = false;

/** Creates a payment client. */
export const createClient: (options: ClientOptions) => WxPayClient = makeCreateClient(
  webRuntime(
    async () => {
      init();
      return glue as CoreBindings;
    },
    async () => {
      if (!qrLoaded) {
        try {
          qrGlue.initSync({ module: readFileSync(new URL('../wasm/qr/wxpay_qr_bg.wasm', import.meta.url)) });
          qrLoaded = true;
        } catch (e) {
          throw new WxPayError('WASM_LOAD', `loading the QR module failed: ${String(e)}`, { cause: e });
        }
      }
      return qrRenderer(qrGlue.qrSvg);
    },
  ),
);
