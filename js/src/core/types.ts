/**
 * Public types of the client package.
 *
 * Platform APIs (`wx`, `uni`, `WeixinJSBridge`) are described by narrow structural
 * interfaces instead of `miniprogram-api-typings` / `@dcloudio/types`, so the published
 * declarations never introduce a global `wx` that would clash with an app's own typings.
 */

import type { EnvironmentId, SurfaceId } from './ids.js';
import type { Schemas } from './server-api.js';

/**
 * What the merchant server is asked to prepare (`POST /api/orders/{id}/pay` `{channel}`): the
 * `PayRequest.channel` enum of the server's OpenAPI document.
 */
export type PayChannel = Schemas['PayRequest']['channel'];

/** Where the code runs, as detected by the wasm core (its ids: `ENVIRONMENTS` in `ids.ts`). */
export type Environment = EnvironmentId;

/** The platform call that starts the payment (the core's ids: `SURFACES` in `ids.ts`). */
export type Surface = SurfaceId;

/**
 * The part of `AbortSignal` the package uses. Declared here rather than taken from the DOM or
 * Node typings, which a mini-program project does not have: there `AbortSignal` would be an
 * unresolved name (or, with `skipLibCheck`, a silent `any`). A real `AbortSignal` fits, and so
 * does a small stand-in where the runtime has no `AbortController`.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The client-side outcome. Advisory only: `ok` means "go and confirm with the server". */
export type Outcome = 'ok' | 'cancel' | 'fail' | 'unknown';

/**
 * WeChat trade states as the merchant server reports them (`Order.state` of its OpenAPI
 * document); a state added later passes through as a string.
 */
export type TradeState = NonNullable<Schemas['Order']['state']> | (string & { readonly __tradeState?: never });

/** The normalised result of the platform call, with WeChat's raw message kept. */
export interface ClientOutcome {
  /** `ok | cancel | fail | unknown`. */
  readonly outcome: Outcome;
  /** WeChat's own message (`requestPayment:fail cancel`, `get_brand_wcpay_request:ok`, …), or '' when there is none. */
  readonly raw: string;
  /** Numeric code when the platform gives one (uni-app App `errCode`). */
  readonly errCode?: number;
}

/** What {@link WxPayClient.pay} resolves with: the server's word, never the client's. */
export interface PayResult {
  /** The merchant order id. */
  readonly orderId: string;
  /** The trade state last reported by the merchant server. */
  readonly state: TradeState;
  /** True only when the server reported `SUCCESS` (or `REFUND`, which implies it was paid). */
  readonly paid: boolean;
  /** True when the server reported a final state; false when polling stopped first (timeout). */
  readonly settled: boolean;
  /** The channel the server prepared. */
  readonly channel: PayChannel;
  /** The detected (or given) environment. */
  readonly environment: Environment;
  /** The normalised client outcome (for messages such as "you cancelled"). */
  readonly client: ClientOutcome;
  /** How many status queries were made. */
  readonly polls: number;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The merchant server's base URL, e.g. `https://shop.example.com` (no trailing slash needed). */
  readonly baseUrl: string;
  /** How HTTP requests are sent; defaults to the entry's transport (fetch, wx.request, uni.request). */
  readonly transport?: Transport;
  /** Returns the session token sent as `Authorization: Bearer …`. */
  readonly getSession?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Platform objects, injected for tests or when the globals are not reachable. */
  readonly platform?: PlatformApis;
  /**
   * H5 cashier hosts to accept instead of WeChat's (`host` or `host:port`), e.g. a local
   * simulator. Leave unset in production: the core then only accepts WeChat's cashier.
   */
  readonly cashierHosts?: readonly string[];
  /** Accept `http://` cashier URLs on `cashierHosts` (local simulator only). */
  readonly allowHttpCashier?: boolean;
}

/** Options of {@link WxPayClient.pay}. */
export interface PayOptions {
  /** The merchant order id created earlier on the server. */
  readonly orderId: string;
  /** `auto` (default) picks the channel from the environment. */
  readonly channel?: 'auto' | PayChannel;
  /** Cancels the payment and its confirmation polling. */
  readonly signal?: AbortSignalLike;
  /** Overall time allowed for confirmation polling, in ms (default: the core policy's, 1 to 15 min). */
  readonly timeoutMs?: number;
  /** H5 flow: the page WeChat's cashier returns to (default: the current page). */
  readonly redirectUrl?: string;
  /** Desktop flow: shows the QR code (SVG markup) to the payer. Required for `native`. */
  readonly onQrCode?: (qr: { readonly svg: string; readonly codeUrl: string }) => void;
  /** Mini-program web-view flow: the mini-program page that performs the payment. */
  readonly miniProgramPayPage?: string;
  /** Override environment detection. */
  readonly environment?: Environment;
  /** Called before the client leaves the page (H5 redirect), e.g. to remember the order id. */
  readonly beforeRedirect?: (url: string) => void;
}

/** Options of {@link WxPayClient.confirm}. */
export interface ConfirmOptions {
  /** Cancels polling. */
  readonly signal?: AbortSignalLike;
  /** Overall time allowed, in ms (default: the core policy's). */
  readonly timeoutMs?: number;
  /** The client outcome that preceded (default `unknown`, e.g. on an H5 return page). */
  readonly outcome?: Outcome;
}

/** The client returned by `createClient`. */
export interface WxPayClient {
  /** Detects the environment, asks the server for parameters, starts the payment and confirms it. */
  pay(options: PayOptions): Promise<PayResult>;
  /** Polls the server until the order settles (for return pages and resumed sessions). */
  confirm(orderId: string, options?: ConfirmOptions): Promise<PayResult>;
  /** The environment as the wasm core sees it. */
  detect(): Promise<Environment>;
  /** Renders any text (normally a `code_url`) as an SVG QR code. */
  qrSvg(text: string, minSize?: number): Promise<string>;
}

/** Callback-style result object of `wx.*` / `uni.*` APIs. */
export interface PlatformCallbackResult {
  readonly errMsg?: string;
  readonly errCode?: number;
  readonly code?: number;
}

/** Options object of callback-style platform APIs. */
export interface PlatformCallbacks {
  success?: (res: PlatformCallbackResult) => void;
  fail?: (res: PlatformCallbackResult) => void;
  cancel?: (res: PlatformCallbackResult) => void;
}

/** Minimal `wx.request` options used by the transport. */
export interface WxRequestOptions {
  url: string;
  method: 'GET' | 'POST';
  header: Record<string, string>;
  data?: string;
  dataType: string;
  responseType: 'text';
  timeout?: number;
  success: (res: { statusCode: number; data: unknown }) => void;
  fail: (err: PlatformCallbackResult) => void;
}

/**
 * What `wx.requestPayment` is called with: the fields the wasm core has validated, and the
 * callbacks. Typed so that the mini-program's own `wx` (as `miniprogram-api-typings`
 * declares it) can be passed as `platform.wx`.
 */
export interface RequestPaymentCall extends PlatformCallbacks {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType?: 'MD5' | 'HMAC-SHA256' | 'RSA';
  paySign: string;
}

/** The parts of the mini-program `wx` object this package uses. */
export interface MiniProgramApi {
  requestPayment?(options: RequestPaymentCall): void;
  request?(options: WxRequestOptions): { abort?: () => void } | void;
  onAppShow?(cb: () => void): void;
  offAppShow?(cb: () => void): void;
}

/** The JS-SDK (`jweixin`) `wx` object of a web page. */
export interface JsSdkApi {
  config?(options: Record<string, unknown>): void;
  ready?(cb: () => void): void;
  error?(cb: (res: PlatformCallbackResult) => void): void;
  chooseWXPay?(options: Record<string, unknown> & PlatformCallbacks): void;
  miniProgram?: {
    navigateTo(options: { url: string } & PlatformCallbacks): void;
    getEnv?(cb: (res: { miniprogram: boolean }) => void): void;
  };
}

/** The uni-app `uni` object. */
export interface UniApi {
  requestPayment?(options: Record<string, unknown> & PlatformCallbacks): void;
  request?(options: WxRequestOptions): { abort?: () => void } | void;
  getSystemInfoSync?(): { uniPlatform?: string; platform?: string };
  onAppShow?(cb: () => void): void;
  offAppShow?(cb: () => void): void;
}

/** `WeixinJSBridge` of WeChat's in-app browser. */
export interface WeixinJsBridgeApi {
  invoke(name: string, params: Record<string, unknown>, cb: (res: { err_msg?: string; errMsg?: string }) => void): void;
}

/** A minimal view of `window.location`. */
export interface LocationLike {
  readonly href: string;
  assign(url: string): void;
}

/** Platform objects; each defaults to the global of the same name when present. */
export interface PlatformApis {
  /** Mini-program `wx` (logic layer). */
  readonly wx?: MiniProgramApi;
  /** JS-SDK `wx` of a web page (jweixin). */
  readonly jssdk?: JsSdkApi;
  /** uni-app `uni`. */
  readonly uni?: UniApi;
  /** `WeixinJSBridge`, once injected. */
  readonly bridge?: WeixinJsBridgeApi;
  /** Page location for the H5 redirect. */
  readonly location?: LocationLike;
  /** User agent override (tests). */
  readonly userAgent?: string;
  /** uni-app platform (`process.env.UNI_PLATFORM`): `mp-weixin`, `app`, `h5`. */
  readonly uniPlatform?: string;
}

/** One request to the merchant server. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text, for POST. */
  readonly body?: string;
  readonly signal?: AbortSignalLike;
}

/** The server's answer. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Sends a request; rejects only when there is no response. */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>;
