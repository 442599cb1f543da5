/**
 * `wxpay-client/uniapp`: uni-app (Vue 3 + Vite), one import for every uni platform.
 *
 * - mp-weixin: `WXWebAssembly.instantiate` from a package path (the Vite plugin
 *   `wxpay-client/vite` emits `static/wxpay/wxpay_wasm_bg.wasm.br` into the build output,
 *   because uni does not copy wasm from `node_modules`); `uni.requestPayment` top-level shape.
 * - h5: `WebAssembly` + fetch of `static/wxpay/wxpay_wasm_bg.wasm`; the H5 surfaces.
 * - app: `uni.requestPayment({ orderInfo })`. Where the runtime has no WebAssembly at all
 *   (iOS JavaScriptCore in the App logic layer), the same core compiled to JavaScript by
 *   binaryen's wasm2js is loaded instead (a separate chunk, imported only then).
 *
 * Uses the mini-program flavour of the module (no reference-types / multivalue), which every
 * engine accepts, and the patched glue that brings its own text codec and has no module-URL lookups.
 */

import * as glue from '../wasm/mp/wxpay_wasm.js';
import { Core, type CoreBindings } from '../core/bindings.js';
import { makeCreateClient } from '../core/client.js';
import { WxPayError } from '../core/errors.js';
import { bridgeGetter, gatherHints, miniProgramGlobals, miniProgramLifecycle, pageDocument, webGlobals, webLifecycle } from '../core/platform.js';
import { fetchTransport, miniProgramTransport } from '../core/transport.js';
import type { ClientOptions, PlatformApis, WxPayClient } from '../core/types.js';

export * from './exports.js';

declare const WXWebAssembly: unknown;

/** Default locations, matching what the Vite plugin emits. */
export const DEFAULT_WASM_BR_PATH = '/static/wxpay/wxpay_wasm_bg.wasm.br';
/** Default URL of the uncompressed module for uni H5. */
export const DEFAULT_WASM_URL = '/static/wxpay/wxpay_wasm_bg.wasm';

/** Options of {@link init}. */
export interface UniInitOptions {
  /** mp-weixin: absolute package path of the `.wasm.br`. */
  readonly wasmPath?: string;
  /** h5 / app: URL of the `.wasm`. */
  readonly wasmUrl?: string;
  /** Use the pure-JS (wasm2js) core even where WebAssembly exists (tests, diagnosis). */
  readonly forceJs?: boolean;
}

type Instantiate = (src: unknown, imports: unknown) => Promise<unknown>;
let options: UniInitOptions = {};
let ready: Promise<CoreBindings> | undefined;

function finish(r: unknown): CoreBindings {
  const rec = r as { instance?: unknown; module?: unknown };
  glue.__wbg_finalize_init(rec && rec.instance !== undefined ? rec.instance : r, rec ? rec.module : undefined);
  return glue as CoreBindings;
}

async function loadOnce(): Promise<CoreBindings> {
  const wxw = typeof WXWebAssembly === 'undefined' ? undefined : (WXWebAssembly as { instantiate?: Instantiate });
  if (wxw && typeof wxw.instantiate === 'function') {
    return finish(await wxw.instantiate(options.wasmPath ?? DEFAULT_WASM_BR_PATH, glue.__wbg_get_imports()));
  }
  const g = globalThis as { WebAssembly?: { instantiate?: Instantiate }; fetch?: (u: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }> };
  const wa = g.WebAssembly;
  if (!wa || typeof wa.instantiate !== 'function' || options.forceJs) {
    // No WebAssembly: the wasm2js build of the same module, given the same imports.
    const js = await import('../wasm/w2j/wxpay_wasm_w2j.js');
    return finish({ exports: js.asmFunc(glue.__wbg_get_imports()) });
  }
  if (typeof g.fetch !== 'function') throw new WxPayError('WASM_UNAVAILABLE', 'no fetch to load the wasm core');
  const url = options.wasmUrl ?? DEFAULT_WASM_URL;
  const res = await g.fetch(url);
  if (!res.ok) throw new WxPayError('WASM_LOAD', `GET ${url}: HTTP ${res.status}`);
  return finish(await wa.instantiate(await res.arrayBuffer(), glue.__wbg_get_imports()));
}

function load(): Promise<CoreBindings> {
  if (!ready) {
    ready = loadOnce().catch((e: unknown) => {
      ready = undefined;
      throw e instanceof WxPayError ? e : new WxPayError('WASM_LOAD', `loading the wasm core failed: ${String(e)}`, { cause: e });
    });
  }
  return ready;
}

/** Sets where the wasm lives and loads it (optional: done on first use with the defaults). */
export function init(o: UniInitOptions = {}): Promise<void> {
  options = { ...options, ...o };
  return load().then(() => undefined);
}

let core: Core | undefined;

/** Creates a payment client. */
export const createClient: (options: ClientOptions) => WxPayClient = makeCreateClient({
  loadCore: async () => (core ??= new Core(await load())),
  loadQr: () => Promise.reject(new WxPayError('QR_UNAVAILABLE', 'QR codes are not part of this entry (desktop flow only)')),
  defaultTransport(platform: PlatformApis) {
    if (platform.uni && typeof platform.uni.request === 'function') return miniProgramTransport(platform.uni);
    return fetchTransport();
  },
  // Through `uni.*` only: on mp-weixin `wx` exists too, but uni's wrappers are what a uni-app
  // developer configures (interceptors) and expects to be called.
  globals: () => ({ ...webGlobals(), uni: miniProgramGlobals().uni }),
  hints: gatherHints,
  lifecycle: (platform) => (platform.uni && typeof platform.uni.onAppShow === 'function' ? miniProgramLifecycle(platform) : webLifecycle()),
  document: pageDocument,
  bridge: bridgeGetter,
});
