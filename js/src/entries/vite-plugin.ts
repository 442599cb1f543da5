/**
 * `wxpay-client/vite`: a Vite plugin for uni-app projects. It does two jobs:
 *
 * - uni does not copy `.wasm` files from `node_modules` into the mp-weixin output, so the
 *   plugin emits the module into `static/wxpay/` of every build: `wxpay_wasm_bg.wasm.br` for
 *   mini-programs (WeChat accepts Brotli from base library 2.14.0) and `wxpay_wasm_bg.wasm`
 *   for H5 / App.
 * - The `uniapp` entry falls back to a pure-JS (wasm2js) core where the runtime has no
 *   WebAssembly (the App logic layer on iOS). Mini-programs (`WXWebAssembly`) and browsers
 *   never need it, and uni inlines the dynamic import on mp-weixin, so for `mp-*` and `h5`
 *   builds the plugin resolves it to a small stub that throws if it is ever called.
 *
 * ```ts
 * import uni from '@dcloudio/vite-plugin-uni';
 * import wxpay from 'wxpay-client/vite';
 * export default defineConfig({ plugins: [uni(), wxpay()] });
 * ```
 *
 * Published as ESM and as CommonJS (Vite bundles a config as CommonJS unless the project is
 * `"type": "module"`, which DCloud's template is not).
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';

/** Options of the plugin. */
export interface WxPayVitePluginOptions {
  /** Output folder inside the build (default `static/wxpay`). */
  readonly dir?: string;
  /** Which files to emit (default: `.wasm.br` for `mp-*` platforms, both otherwise). */
  readonly emit?: 'br' | 'wasm' | 'both';
  /**
   * Keep the pure-JS core for runtimes without WebAssembly (default: only for builds that
   * are not `mp-*` or `h5`, i.e. the App).
   */
  readonly jsFallback?: boolean;
}

/** The part of Rollup's plugin context the plugin uses. */
export interface EmitContext {
  emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array }): string;
}

/** A Vite/Rollup plugin object (structural, so this package needs no `vite` dependency). */
export interface WxPayVitePlugin {
  readonly name: string;
  readonly enforce: 'pre';
  resolveId(source: string, importer?: string): string | null;
  generateBundle(this: EmitContext): void;
}

/** How the `uniapp` entry imports the wasm2js core (relative to `esm/entries/`). */
const JS_CORE_IMPORT = '../wasm/w2j/wxpay_wasm_w2j.js';

function uniPlatform(): string {
  return typeof process !== 'undefined' ? (process.env.UNI_PLATFORM ?? '') : '';
}

function isOurEntry(importer: string | undefined): boolean {
  const path = (importer ?? '').replace(/\\/g, '/');
  return /\/esm\/entries\/uniapp\.js$/.test(path);
}

/** Creates the plugin. */
export default function wxpayWasm(options: WxPayVitePluginOptions = {}): WxPayVitePlugin {
  const dir = (options.dir ?? 'static/wxpay').replace(/^\/+|\/+$/g, '');
  const keepJsCore = (platform: string) => options.jsFallback ?? !(platform.startsWith('mp-') || platform === 'h5');
  return {
    name: 'wxpay-client:wasm',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source !== JS_CORE_IMPORT || !isOurEntry(importer) || keepJsCore(uniPlatform())) return null;
      // A real file, not a virtual module: uni's mp build names chunks after module paths.
      return fileURLToPath(new URL('./no-js-core.js', import.meta.url));
    },
    generateBundle() {
      const platform = uniPlatform();
      const emit = options.emit ?? (platform.startsWith('mp-') ? 'br' : 'both');
      if (emit !== 'wasm') {
        this.emitFile({
          type: 'asset',
          fileName: `${dir}/wxpay_wasm_bg.wasm.br`,
          source: readFileSync(new URL('../wasm/mp/wxpay_wasm_bg.wasm.br', import.meta.url)),
        });
      }
      if (emit !== 'br') {
        this.emitFile({
          type: 'asset',
          fileName: `${dir}/wxpay_wasm_bg.wasm`,
          source: readFileSync(new URL('../wasm/mp/wxpay_wasm_bg.wasm', import.meta.url)),
        });
      }
    },
  };
}
