/**
 * The merchant server's HTTP API as the client uses it.
 *
 * - `POST {baseUrl}/api/orders/{id}/pay` with `{"channel": …}` → the signed parameters for
 *   that channel (the server decides the price and signs; the client never does);
 * - `GET {baseUrl}/api/orders/{id}` → the order, whose `state` is the only proof of payment.
 *
 * Parsing is kept in this one file so a change of the server's shapes is a local change.
 */

import { WxPayError } from './errors.js';
import type { Transport } from './transport.js';
import type { PayChannel, TradeState } from './types.js';

/** What `POST …/pay` returned, reduced to what the surfaces need. */
export interface PayPreparation {
  readonly channel: PayChannel;
  /** The signed bundle for the surface (requestPayment / bridge / chooseWXPay / APP fields). */
  readonly params: Record<string, unknown>;
  /** JS-SDK `wx.config` parameters (channel `jssdk`). */
  readonly jssdkConfig?: Record<string, unknown>;
  /** H5: the cashier URL (`h5_url` / `mweb_url`). */
  readonly h5Url?: string;
  /** Native: the `code_url` to show as a QR code. */
  readonly codeUrl?: string;
}

/** What `GET …/orders/{id}` returned. */
export interface OrderStatus {
  readonly state: TradeState;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(o: Json, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** Talks to the merchant server with a transport and an optional session token. */
export class MerchantApi {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly transport: Transport,
    private readonly getSession?: () => string | null | undefined | Promise<string | null | undefined>,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<Json> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = this.getSession ? await this.getSession() : undefined;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await this.transport({
      method,
      url: this.base + path,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    let parsed: unknown;
    try {
      parsed = res.body === '' ? {} : JSON.parse(res.body);
    } catch {
      throw new WxPayError('SERVER_RESPONSE', `${method} ${path}: the body is not JSON (status ${res.status})`, {
        status: res.status,
      });
    }
    if (res.status < 200 || res.status >= 300) {
      const msg = isObject(parsed) ? str(parsed, 'message', 'error', 'code') : undefined;
      throw new WxPayError('HTTP_STATUS', `${method} ${path}: HTTP ${res.status}${msg ? `: ${msg}` : ''}`, {
        status: res.status,
      });
    }
    if (!isObject(parsed)) {
      throw new WxPayError('SERVER_RESPONSE', `${method} ${path}: expected a JSON object`);
    }
    return parsed;
  }

  /** Asks the server to prepare (or reuse) the prepay for `channel`. */
  async preparePay(orderId: string, channel: PayChannel, signal?: AbortSignal): Promise<PayPreparation> {
    const body = await this.call('POST', `/api/orders/${encodeURIComponent(orderId)}/pay`, { channel }, signal);
    const params = isObject(body.params) ? body.params : body;
    const jssdkConfig = isObject(body.jssdk_config) ? body.jssdk_config : isObject(body.config) ? body.config : undefined;
    return {
      channel,
      params,
      jssdkConfig,
      h5Url: str(params, 'h5_url', 'mweb_url', 'h5Url') ?? str(body, 'h5_url', 'mweb_url', 'h5Url'),
      codeUrl: str(params, 'code_url', 'codeUrl') ?? str(body, 'code_url', 'codeUrl'),
    };
  }

  /**
   * JS-SDK `wx.config` parameters for the page (`GET /api/jssdk/config?url=…`). WeChat signs
   * the URL without its fragment; on iOS single-page apps pass the landing URL instead.
   */
  async jssdkConfig(pageUrl: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const url = pageUrl.split('#')[0] ?? pageUrl;
    return this.call('GET', `/api/jssdk/config?url=${encodeURIComponent(url)}`, undefined, signal);
  }

  /** Reads the order's state (the server queries WeChat itself when its record is stale). */
  async status(orderId: string, signal?: AbortSignal): Promise<OrderStatus> {
    const body = await this.call('GET', `/api/orders/${encodeURIComponent(orderId)}`, undefined, signal);
    const order = isObject(body.order) ? body.order : body;
    const state = str(order, 'state', 'trade_state', 'status');
    if (state === undefined) {
      throw new WxPayError('SERVER_RESPONSE', 'order status response has no `state`');
    }
    return { state };
  }
}
