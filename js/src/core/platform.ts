/**
 * Reading the host's globals without declaring them globally.
 *
 * The published `.d.ts` must not declare `wx`, `uni` or `WeixinJSBridge` (it would clash
 * with the app's own typings), so globals are looked up here through `globalThis` / `typeof`
 * checks and typed with the narrow interfaces of `types.ts`.
 */

import type { EnvHints } from './bindings.js';
import type { Lifecycle } from './confirm.js';
import type { JsSdkApi, LocationLike, MiniProgramApi, PlatformApis, UniApi, WeixinJsBridgeApi } from './types.js';

// Module-scoped declarations: not exported, so they never reach the published types.
declare const wx: unknown;
declare const uni: unknown;
declare const plus: unknown;
declare const WeixinJSBridge: unknown;
declare const window: unknown;
declare const navigator: unknown;

type Doc = {
  addEventListener(type: string, cb: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: string, cb: () => void): void;
  readonly visibilityState?: string;
};
type Win = {
  location?: LocationLike;
  navigator?: { userAgent?: string; maxTouchPoints?: number };
  document?: Doc;
  addEventListener?(type: string, cb: () => void): void;
  removeEventListener?(type: string, cb: () => void): void;
  __wxjs_environment?: string;
  wx?: unknown;
  WeixinJSBridge?: unknown;
};

/** `window`, when this is a page. */
export function pageWindow(): Win | undefined {
  return typeof window === 'undefined' ? undefined : (window as unknown as Win);
}

function wxGlobal(): unknown {
  return typeof wx === 'undefined' ? undefined : wx;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

/** Platform objects of a web page (JS-SDK `wx`, `WeixinJSBridge`, `location`). */
export function webGlobals(): PlatformApis {
  const w = pageWindow();
  const sdk = w && isObj(w.wx) ? (w.wx as JsSdkApi) : undefined;
  return {
    jssdk: sdk,
    bridge: w && isObj(w.WeixinJSBridge) ? (w.WeixinJSBridge as unknown as WeixinJsBridgeApi) : undefined,
    location: w?.location,
  };
}

/** Platform objects of a mini-program logic layer (`wx`) and of uni-app (`uni`). */
export function miniProgramGlobals(): PlatformApis {
  const w = wxGlobal();
  const u = typeof uni === 'undefined' ? undefined : uni;
  return {
    wx: isObj(w) && typeof w.requestPayment === 'function' ? (w as MiniProgramApi) : undefined,
    uni: isObj(u) ? (u as UniApi) : undefined,
  };
}

/** Collects the signals the core's environment detection needs. */
export function gatherHints(platform: PlatformApis): EnvHints {
  const w = pageWindow();
  const nav = w?.navigator ?? (typeof navigator === 'undefined' ? undefined : (navigator as { userAgent?: string; maxTouchPoints?: number }));
  let uniPlatform = platform.uniPlatform ?? null;
  if (uniPlatform === null && platform.uni && typeof platform.uni.getSystemInfoSync === 'function') {
    try {
      uniPlatform = platform.uni.getSystemInfoSync().uniPlatform ?? null;
    } catch {
      uniPlatform = null;
    }
  }
  return {
    userAgent: platform.userAgent ?? nav?.userAgent ?? '',
    hasWindow: w !== undefined,
    hasWxRequestPayment: !!platform.wx && typeof platform.wx.requestPayment === 'function',
    hasPlus: typeof plus !== 'undefined' && isObj(plus),
    hasUni: !!platform.uni,
    uniPlatform,
    wxjsEnvironment: w && typeof w.__wxjs_environment === 'string' ? w.__wxjs_environment : null,
    maxTouchPoints: typeof nav?.maxTouchPoints === 'number' ? nav.maxTouchPoints : 0,
  };
}

/** `pageshow` (bfcache return from the cashier) and `visibilitychange` → visible. */
export function webLifecycle(): Lifecycle {
  return {
    onResume(cb) {
      const w = pageWindow();
      const doc = w?.document;
      if (!w || !doc || typeof w.addEventListener !== 'function') return () => undefined;
      const onShow = (): void => cb();
      const onVis = (): void => {
        if (doc.visibilityState === 'visible') cb();
      };
      w.addEventListener('pageshow', onShow);
      doc.addEventListener('visibilitychange', onVis);
      return () => {
        w.removeEventListener?.('pageshow', onShow);
        doc.removeEventListener('visibilitychange', onVis);
      };
    },
  };
}

/** `wx.onAppShow` (or `uni.onAppShow`): the payer comes back to the mini-program / app. */
export function miniProgramLifecycle(platform: PlatformApis): Lifecycle {
  return {
    onResume(cb) {
      const api = platform.wx ?? platform.uni;
      if (!api || typeof api.onAppShow !== 'function') return () => undefined;
      const handler = (): void => cb();
      api.onAppShow(handler);
      return () => api.offAppShow?.(handler);
    },
  };
}

/** `document`, for `WeixinJSBridgeReady`. */
export function pageDocument(): Doc | undefined {
  return pageWindow()?.document;
}

/** Late lookup of `WeixinJSBridge` (injected after page load). */
export function bridgeGetter(platform: PlatformApis): () => WeixinJsBridgeApi | undefined {
  return () => {
    if (platform.bridge) return platform.bridge;
    const b = typeof WeixinJSBridge === 'undefined' ? pageWindow()?.WeixinJSBridge : WeixinJSBridge;
    return isObj(b) && typeof b.invoke === 'function' ? (b as unknown as WeixinJsBridgeApi) : undefined;
  };
}
