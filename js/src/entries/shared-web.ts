/**
 * The runtime shared by the browser-side ESM entries (web, bundler, slim, node): fetch
 * transport, page lifecycle, JS-SDK / WeixinJSBridge globals. Only the loading of the wasm
 * differs between them.
 */

import { Core, type CoreBindings, type QrRenderer } from '../core/bindings.js';
import type { EntryRuntime } from '../core/client.js';
import { bridgeGetter, gatherHints, pageDocument, webGlobals, webLifecycle, miniProgramGlobals } from '../core/platform.js';
import { fetchTransport, miniProgramTransport } from '../core/transport.js';

/** Builds an {@link EntryRuntime} around a wasm loader. */
export function webRuntime(load: () => Promise<CoreBindings>, loadQr: () => Promise<QrRenderer>): EntryRuntime {
  let core: Promise<Core> | undefined;
  return {
    loadCore() {
      if (!core) {
        core = load().then((b) => new Core(b));
        core.catch(() => {
          core = undefined; // let a later call retry (flaky network while fetching the .wasm)
        });
      }
      return core;
    },
    loadQr,
    defaultTransport(platform) {
      if (typeof (globalThis as { fetch?: unknown }).fetch === 'function') return fetchTransport();
      const mp = platform.uni ?? platform.wx;
      return mp ? miniProgramTransport(mp) : fetchTransport();
    },
    globals: () => ({ ...miniProgramGlobals(), ...webGlobals() }),
    hints: gatherHints,
    lifecycle: () => webLifecycle(),
    document: pageDocument,
    bridge: bridgeGetter,
  };
}
