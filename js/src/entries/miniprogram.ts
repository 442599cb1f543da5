/**
 * `wxpay-client/miniprogram` (CommonJS, in `miniprogram_dist/`): WeChat mini-programs.
 *
 * The runtime has no `WebAssembly`, `TextEncoder`, `TextDecoder`, `fetch` or `URL`, and
 * `WXWebAssembly.instantiate` only takes a path inside the code package. The glue is a
 * patched copy of wasm-bindgen's (see `js/tools/patch-mp-glue.mjs`) that brings its own text
 * codec; this loader instantiates the `.wasm.br` from the package path and HTTP goes through
 * `wx.request`. Polling restarts on `wx.onAppShow`.
 */

import * as glue from '../wasm/mp-cjs/wxpay_wasm.js';
import { Core, type CoreBindings } from '../core/bindings.js';
import { makeCreateClient } from '../core/client.js';
import { WxPayError } from '../core/errors.js';
import { bridgeGetter, gatherHints, miniProgramGlobals, miniProgramLifecycle, pageDocument } from '../core/platform.js';
import { miniProgramTransport } from '../core/transport.js';
import type { ClientOptions, WxPayClient } from '../core/types.js';

export * from './exports.js';

declare const WXWebAssembly: unknown;

/** Where WeChat's "构建 npm" puts the module (the `miniprogram` field copies miniprogram_dist/). */
export const DEFAULT_WASM_PATH = '/miniprogram_npm/wxpay-client/wxpay_wasm_bg.wasm.br';

/** Options of {@link init}. */
export interface MiniProgramInitOptions {
  /** Absolute path of `wxpay_wasm_bg.wasm.br` (or `.wasm`) inside the code package. */
  readonly wasmPath?: string;
}

type WxWasm = { instantiate(path: string, imports: unknown): Promise<unknown> };

let ready: Promise<CoreBindings> | undefined;
let wasmPath = DEFAULT_WASM_PATH;

/** Sets the wasm path and loads the core (optional: done on first use with the default path). */
export function init(options: MiniProgramInitOptions = {}): Promise<void> {
  if (options.wasmPath) {
    if (ready && options.wasmPath !== wasmPath) {
      return Promise.reject(new WxPayError('WASM_LOAD', 'the wasm core is already loaded from another path'));
    }
    wasmPath = options.wasmPath;
  }
  return load().then(() => undefined);
}

function load(): Promise<CoreBindings> {
  if (ready) return ready;
  const wxw = typeof WXWebAssembly === 'undefined' ? undefined : (WXWebAssembly as WxWasm);
  if (!wxw || typeof wxw.instantiate !== 'function') {
    return Promise.reject(new WxPayError('WASM_UNAVAILABLE', 'WXWebAssembly is missing (base library < 2.13.0?)'));
  }
  ready = wxw.instantiate(wasmPath, glue.__wbg_get_imports()).then(
    (r) => {
      // Devices return { instance, module }; the official typings say Instance: accept both.
      const rec = r as { instance?: unknown; module?: unknown };
      const instance = rec && rec.instance !== undefined ? rec.instance : r;
      glue.__wbg_finalize_init(instance, rec ? rec.module : undefined);
      return glue as CoreBindings;
    },
    (e: unknown) => {
      ready = undefined;
      throw new WxPayError('WASM_LOAD', `WXWebAssembly.instantiate(${wasmPath}) failed: ${String(e)}`, { cause: e });
    },
  );
  return ready;
}

let core: Core | undefined;

/** Creates a payment client. */
export const createClient: (options: ClientOptions) => WxPayClient = makeCreateClient({
  loadCore: async () => (core ??= new Core(await load())),
  loadQr: () => Promise.reject(new WxPayError('QR_UNAVAILABLE', 'QR codes are not part of this entry (desktop flow only)')),
  defaultTransport(platform) {
    const api = platform.wx ?? platform.uni;
    if (!api) throw new WxPayError('TRANSPORT', 'no wx.request here; pass a transport to createClient');
    return miniProgramTransport(api);
  },
  globals: miniProgramGlobals,
  hints: gatherHints,
  lifecycle: miniProgramLifecycle,
  document: pageDocument,
  bridge: bridgeGetter,
});
