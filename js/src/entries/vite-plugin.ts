/**
 * `wxpay-client/vite`: a Vite plugin for uni-app projects. uni does not copy `.wasm` files
 * from `node_modules` into the mp-weixin output, so this emits the module into
 * `static/wxpay/` of every build: `wxpay_wasm_bg.wasm.br` for mini-programs (WeChat accepts
 * Brotli from base library 2.14.0) and `wxpay_wasm_bg.wasm` for H5 / App.
 *
 * ```ts
 * import uni from '@dcloudio/vite-plugin-uni';
 * import wxpay from 'wxpay-client/vite';
 * export default defineConfig({ plugins: [uni(), wxpay()] });
 * ```
 */

import { readFileSync } from 'node:fs';

/** Options of the plugin. */
export interface WxPayVitePluginOptions {
  /** Output folder inside the build (default `static/wxpay`). */
  readonly dir?: string;
  /** Which files to emit (default: `.wasm.br` for `mp-*` platforms, both otherwise). */
  readonly emit?: 'br' | 'wasm' | 'both';
}

/** The part of Rollup's plugin context the plugin uses. */
export interface EmitContext {
  emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array }): string;
}

/** A Vite/Rollup plugin object (structural, so this package needs no `vite` dependency). */
export interface WxPayVitePlugin {
  readonly name: string;
  generateBundle(this: EmitContext): void;
}

/** Creates the plugin. */
export default function wxpayWasm(options: WxPayVitePluginOptions = {}): WxPayVitePlugin {
  const dir = (options.dir ?? 'static/wxpay').replace(/^\/+|\/+$/g, '');
  return {
    name: 'wxpay-client:wasm',
    generateBundle() {
      const platform = typeof process !== 'undefined' ? process.env.UNI_PLATFORM ?? '' : '';
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
