/**
 * `createClient`: one payment state machine for every surface.
 *
 * detect → ask the merchant server for parameters → validate them in the wasm core → start
 * the platform call → normalise the outcome → confirm by polling the server. Entry points
 * (web, node, slim, miniprogram, uniapp) differ only in how they load the wasm and which
 * platform defaults they supply; see {@link EntryRuntime}.
 */

import type { Core, EnvHints, FormatOptions, PollPolicyName, QrRenderer } from './bindings.js';
import { confirmOrder, type Lifecycle } from './confirm.js';
import { WxPayError, toWxPayError } from './errors.js';
import type { CoreChannel } from './ids.js';
import { MerchantApi } from './server.js';
import { chooseWxPay, handOffToMiniProgram, invokeBridge, requestPayment, waitForBridge, type RawResult } from './surfaces.js';
import type { Transport } from './transport.js';
import type {
  ClientOptions,
  ClientOutcome,
  ConfirmOptions,
  Environment,
  Outcome,
  PayChannel,
  PayOptions,
  PayResult,
  PlatformApis,
  Surface,
  WxPayClient,
} from './types.js';

/** How long `pay()` keeps confirming with the server after the payer cancelled or the surface failed. */
const CANCEL_CONFIRM_MS = 5000;

const BRIDGE_TIMEOUT_MS = 10_000;
const DEFAULT_MP_PAY_PAGE = '/pages/pay/pay';

/** What an entry point supplies. */
export interface EntryRuntime {
  /** Loads (once) and returns the core. */
  loadCore(): Promise<Core>;
  /** Loads (once) the QR module; rejects with `QR_UNAVAILABLE` where there is none. */
  loadQr(): Promise<QrRenderer>;
  /** The default transport of this runtime. */
  defaultTransport(platform: PlatformApis): Transport;
  /** Platform objects found as globals. */
  globals(): PlatformApis;
  /** Signals for environment detection. */
  hints(platform: PlatformApis): EnvHints;
  /** Foreground/return notifications. */
  lifecycle(platform: PlatformApis): Lifecycle;
  /** The document, for `WeixinJSBridgeReady`. */
  document(): { addEventListener(type: string, cb: () => void, opts?: { once?: boolean }): void } | undefined;
  /** `WeixinJSBridge` lookup (it appears late). */
  bridge(platform: PlatformApis): WeixinJsBridgeApiGetter;
}

type WeixinJsBridgeApiGetter = () => import('./types.js').WeixinJsBridgeApi | undefined;

/**
 * The core picks the channel for an environment; this only translates its ids to the server's
 * (`PayRequest.channel`), both sides checked by the compiler.
 */
const PAY_CHANNEL: Readonly<Record<CoreChannel, PayChannel | 'hand-off'>> = {
  'mini-program': 'miniprogram',
  jsapi: 'jsapi',
  h5: 'h5',
  native: 'native',
  app: 'app',
  'web-view-handoff': 'hand-off',
};

function channelFor(core: Core, env: Environment): PayChannel | 'hand-off' {
  const channel = core.defaultChannel(env);
  if (channel === undefined) {
    throw new WxPayError('SURFACE_UNAVAILABLE', `no payment channel for environment "${env}"; pass channel explicitly`);
  }
  return PAY_CHANNEL[channel];
}

function surfaceFor(channel: PayChannel, platform: PlatformApis): Surface {
  switch (channel) {
    case 'miniprogram':
      // uni-app (mp-weixin) pays through uni.requestPayment, a native mini-program through wx.
      return !platform.wx && platform.uni && typeof platform.uni.requestPayment === 'function' ? 'uni-mp-weixin' : 'mini-program';
    case 'app':
      return 'uni-app';
    case 'jsapi':
      return 'weixin-js-bridge';
    case 'jssdk':
      return 'js-sdk';
    case 'h5':
      return 'h5';
    case 'native':
      return 'native';
  }
}

function currentHref(platform: PlatformApis): string | undefined {
  return platform.location?.href;
}

/**
 * wxpay-server answers the `jssdk` channel in the `wx.chooseWXPay` shape (`timestamp`, no
 * `appId`), which passes through. A server that signs one bundle for both WeChat-browser
 * surfaces sends the `getBrandWCPayRequest` casing (`appId`, `timeStamp`) instead: that bundle is
 * validated as such first (so a wrong `appId` is still caught), then handed to the JS-SDK
 * formatter under the JS-SDK's name for the same signed value (`timestamp`).
 */
function jssdkInput(core: Core, params: Record<string, unknown>): Record<string, unknown> {
  if (!('timeStamp' in params) || 'timestamp' in params) return params;
  const bundle = core.format('weixin-js-bridge', params);
  const { timeStamp, appId: _appId, ...rest } = bundle;
  return { ...rest, timestamp: timeStamp };
}

/** Builds `createClient` for one entry point. */
export function makeCreateClient(runtime: EntryRuntime): (options: ClientOptions) => WxPayClient {
  return (options) => {
    if (!options || typeof options.baseUrl !== 'string') {
      throw new WxPayError('OPTION_MISSING', 'createClient needs { baseUrl }');
    }
    const platform: PlatformApis = { ...runtime.globals(), ...options.platform };
    const transport = options.transport ?? runtime.defaultTransport(platform);
    const api = new MerchantApi(options.baseUrl, transport, options.getSession);
    const formatOptions: FormatOptions | undefined = options.cashierHosts
      ? { h5Hosts: options.cashierHosts, allowHttp: options.allowHttpCashier === true }
      : undefined;

    const detect = async (): Promise<Environment> => {
      const core = await runtime.loadCore();
      return core.detect(runtime.hints(platform));
    };

    const confirm = async (orderId: string, o: ConfirmOptions & { environment?: Environment; channel?: PayChannel; client?: ClientOutcome } = {}): Promise<PayResult> => {
      const core = await runtime.loadCore();
      const outcome: Outcome = o.client?.outcome ?? o.outcome ?? 'unknown';
      const policy: PollPolicyName =
        o.channel === 'native' ? 'native-qr' : outcome === 'unknown' ? 'h5-return' : 'after-client-result';
      const c = await confirmOrder({
        core,
        api,
        orderId,
        policy,
        // After a cancel or fail the payer is still on the page: confirm briefly (a signature
        // error can surface as a cancel) instead of holding the UI for the policy's full minute.
        timeoutMs: o.timeoutMs ?? (outcome === 'cancel' || outcome === 'fail' ? CANCEL_CONFIRM_MS : 0),
        signal: o.signal,
        lifecycle: runtime.lifecycle(platform),
      });
      return {
        orderId,
        state: c.state,
        paid: c.paid,
        settled: c.settled,
        channel: o.channel ?? 'h5',
        environment: o.environment ?? 'unknown',
        client: o.client ?? { outcome, raw: '' },
        polls: c.polls,
      };
    };

    const pay = async (p: PayOptions): Promise<PayResult> => {
      if (!p || typeof p.orderId !== 'string' || p.orderId === '') {
        throw new WxPayError('OPTION_MISSING', 'pay needs { orderId }');
      }
      if (p.signal?.aborted) throw new WxPayError('ABORTED', 'payment aborted before it started');
      const core = await runtime.loadCore();
      const environment = p.environment ?? core.detect(runtime.hints(platform));
      const wanted = p.channel && p.channel !== 'auto' ? p.channel : channelFor(core, environment);
      const common = { signal: p.signal, timeoutMs: p.timeoutMs, environment };

      if (wanted === 'hand-off') {
        const sdk = platform.jssdk;
        if (!sdk) throw new WxPayError('SURFACE_UNAVAILABLE', 'inside a mini-program web-view the JS-SDK (jweixin) must be loaded');
        const back = currentHref(platform);
        const page = p.miniProgramPayPage ?? DEFAULT_MP_PAY_PAGE;
        const sep = page.includes('?') ? '&' : '?';
        const url = `${page}${sep}orderId=${encodeURIComponent(p.orderId)}${back ? `&back=${encodeURIComponent(back)}` : ''}`;
        const raw = await handOffToMiniProgram(sdk, url);
        const client = core.normalise('mini-program', raw);
        if (client.outcome === 'fail') {
          throw new WxPayError('SURFACE_UNAVAILABLE', `could not open the mini-program pay page: ${client.raw}`);
        }
        return confirm(p.orderId, { ...common, channel: 'miniprogram', client: { outcome: 'unknown', raw: client.raw } });
      }

      const channel = wanted;
      const surface = surfaceFor(channel, platform);
      const prep = await api.preparePay(p.orderId, channel, p.signal);
      let raw: RawResult | undefined;

      switch (surface) {
        case 'mini-program': {
          const wx = platform.wx;
          if (!wx) throw new WxPayError('SURFACE_UNAVAILABLE', 'wx is not available');
          raw = await requestPayment(wx, core.format(surface, prep.params));
          break;
        }
        case 'uni-mp-weixin':
        case 'uni-app': {
          const uni = platform.uni;
          if (!uni) throw new WxPayError('SURFACE_UNAVAILABLE', 'uni is not available');
          raw = await requestPayment(uni, core.format(surface, prep.params));
          break;
        }
        case 'weixin-js-bridge': {
          const formatted = core.format(surface, prep.params);
          const bridge = await waitForBridge(runtime.bridge(platform), runtime.document(), BRIDGE_TIMEOUT_MS);
          raw = await invokeBridge(bridge, formatted);
          break;
        }
        case 'js-sdk': {
          const sdk = platform.jssdk;
          if (!sdk) throw new WxPayError('SURFACE_UNAVAILABLE', 'the JS-SDK (jweixin) is not loaded');
          const formatted = core.format(surface, jssdkInput(core, prep.params));
          const href = currentHref(platform);
          const config = href && typeof sdk.config === 'function' ? await api.jssdkConfig(href, p.signal) : undefined;
          raw = await chooseWxPay(sdk, config, formatted, BRIDGE_TIMEOUT_MS);
          break;
        }
        case 'h5': {
          if (!prep.h5Url) throw new WxPayError('SERVER_RESPONSE', 'the server returned no params.h5Url');
          const back = p.redirectUrl ?? currentHref(platform);
          const formatted = core.format('h5', back ? { h5_url: prep.h5Url, redirect_url: back } : { h5_url: prep.h5Url }, formatOptions);
          const url = formatted.url;
          const loc = platform.location;
          if (!loc) throw new WxPayError('SURFACE_UNAVAILABLE', 'no location to redirect (not a browser page?)');
          if (typeof url !== 'string') throw new WxPayError('SERVER_RESPONSE', 'h5_url could not be formatted');
          p.beforeRedirect?.(url);
          loc.assign(url);
          // The page may survive (bfcache) and come back: keep polling; the lifecycle hook restarts it.
          raw = undefined;
          break;
        }
        case 'native': {
          if (!prep.codeUrl) throw new WxPayError('SERVER_RESPONSE', 'the server returned no params.codeUrl');
          if (!p.onQrCode) throw new WxPayError('OPTION_MISSING', 'the desktop (Native) flow needs pay({ onQrCode })');
          core.format('native', { code_url: prep.codeUrl });
          const render = await runtime.loadQr();
          p.onQrCode({ svg: render(prep.codeUrl, 0), codeUrl: prep.codeUrl });
          raw = undefined;
          break;
        }
        default:
          throw new WxPayError('SURFACE_UNAVAILABLE', `surface ${String(surface)} cannot be started from JavaScript`);
      }

      const client: ClientOutcome = raw === undefined ? { outcome: 'unknown', raw: '' } : core.normalise(surface, raw);
      return confirm(p.orderId, { ...common, channel, client });
    };

    return {
      pay: async (p) => {
        try {
          return await pay(p);
        } catch (e) {
          throw toWxPayError(e, 'SURFACE_UNAVAILABLE');
        }
      },
      confirm: (orderId, o) => confirm(orderId, o ?? {}),
      detect,
      qrSvg: async (text, minSize) => (await runtime.loadQr())(text, minSize ?? 0),
    };
  };
}
