/**
 * Starting the payment on each surface. Each function takes the already validated and
 * formatted object from the wasm core and resolves with the platform's raw result, which the
 * core then normalises. None of them decides whether the order is paid.
 */

import { WxPayError } from './errors.js';
import type { JsSdkApi, MiniProgramApi, PlatformCallbackResult, RequestPaymentCall, UniApi, WeixinJsBridgeApi } from './types.js';

/** Raw platform result, handed to the core's normaliser as JSON. */
export interface RawResult {
  errMsg?: string;
  err_msg?: string;
  errCode?: number;
  code?: number;
  /** Which callback fired (`success`, `fail`, `cancel`), for APIs whose message is not enough. */
  callback?: 'success' | 'fail' | 'cancel';
}

function fromCallback(callback: RawResult['callback'], res: PlatformCallbackResult | undefined): RawResult {
  const out: RawResult = { callback };
  if (res && typeof res.errMsg === 'string') out.errMsg = res.errMsg;
  if (res && typeof res.errCode === 'number') out.errCode = res.errCode;
  if (res && typeof res.code === 'number') out.code = res.code;
  return out;
}

/** `wx.requestPayment` (mini-program) or `uni.requestPayment` (both uni shapes). */
export function requestPayment(api: MiniProgramApi | UniApi, params: Record<string, unknown>): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    if (typeof api.requestPayment !== 'function') {
      reject(new WxPayError('SURFACE_UNAVAILABLE', 'requestPayment is not available on this platform object'));
      return;
    }
    // The core has checked `params` for this surface.
    api.requestPayment({
      ...params,
      success: (res: PlatformCallbackResult) => resolve(fromCallback('success', res)),
      fail: (res: PlatformCallbackResult) => resolve(fromCallback('fail', res)),
    } as RequestPaymentCall & Record<string, unknown>);
  });
}

/** Waits for `WeixinJSBridge` (injected asynchronously by WeChat's browser). */
export function waitForBridge(
  get: () => WeixinJsBridgeApi | undefined,
  doc: { addEventListener(type: string, cb: () => void, opts?: { once?: boolean }): void } | undefined,
  timeoutMs: number,
): Promise<WeixinJsBridgeApi> {
  const now = get();
  if (now) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    if (!doc) {
      reject(new WxPayError('SURFACE_UNAVAILABLE', 'WeixinJSBridge is not available (not in WeChat\'s browser?)'));
      return;
    }
    const timer = setTimeout(() => {
      reject(new WxPayError('BRIDGE_TIMEOUT', `WeixinJSBridgeReady did not fire within ${timeoutMs} ms`));
    }, timeoutMs);
    doc.addEventListener(
      'WeixinJSBridgeReady',
      () => {
        clearTimeout(timer);
        const b = get();
        if (b) resolve(b);
        else reject(new WxPayError('SURFACE_UNAVAILABLE', 'WeixinJSBridgeReady fired but WeixinJSBridge is missing'));
      },
      { once: true },
    );
  });
}

/** `WeixinJSBridge.invoke('getBrandWCPayRequest', …)`. */
export function invokeBridge(bridge: WeixinJsBridgeApi, params: Record<string, unknown>): Promise<RawResult> {
  return new Promise((resolve) => {
    bridge.invoke('getBrandWCPayRequest', params, (res) => {
      const out: RawResult = {};
      if (typeof res?.err_msg === 'string') out.err_msg = res.err_msg;
      if (typeof res?.errMsg === 'string') out.errMsg = res.errMsg;
      resolve(out);
    });
  });
}

/** `wx.config` → `wx.ready` → `wx.chooseWXPay` (JS-SDK). */
export function chooseWxPay(
  sdk: JsSdkApi,
  config: Record<string, unknown> | undefined,
  params: Record<string, unknown>,
  timeoutMs: number,
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    if (typeof sdk.chooseWXPay !== 'function' || typeof sdk.ready !== 'function') {
      reject(new WxPayError('SURFACE_UNAVAILABLE', 'the JS-SDK (jweixin) is not loaded on this page'));
      return;
    }
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new WxPayError('BRIDGE_TIMEOUT', `wx.ready did not fire within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (r: RawResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    if (typeof sdk.error === 'function') {
      sdk.error((res) => done(fromCallback('fail', { errMsg: `config:fail ${res.errMsg ?? ''}`.trim() })));
    }
    if (config && typeof sdk.config === 'function') {
      sdk.config({ ...config, jsApiList: ['chooseWXPay'] });
    }
    sdk.ready(() => {
      clearTimeout(timer);
      sdk.chooseWXPay?.({
        ...params,
        success: (res) => done(fromCallback('success', res)),
        cancel: (res) => done(fromCallback('cancel', res)),
        fail: (res) => done(fromCallback('fail', res)),
      });
    });
  });
}

/** Hands the payment to a mini-program page from inside a web-view (pages there cannot pay). */
export function handOffToMiniProgram(sdk: JsSdkApi, url: string): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const nav = sdk.miniProgram;
    if (!nav || typeof nav.navigateTo !== 'function') {
      reject(new WxPayError('SURFACE_UNAVAILABLE', 'wx.miniProgram.navigateTo is missing: load the JS-SDK (jweixin ≥ 1.3.2) in the web-view page'));
      return;
    }
    nav.navigateTo({
      url,
      success: (res) => resolve(fromCallback('success', res)),
      fail: (res) => resolve(fromCallback('fail', res)),
    });
  });
}
