/**
 * The merchant server's API as its OpenAPI document states it (`server-api.ts`, generated):
 * a field the document drops no longer compiles here. Answers are still checked at run time.
 */

import { WxPayError } from './errors.js';
import type { Paths, Schemas } from './server-api.js';
import type { Transport } from './transport.js';
import type { AbortSignalLike, PayChannel, TradeState } from './types.js';

/** `PayResponse.params`: the documented parameter shapes, one per channel family. */
export type PayParams = Schemas['PayResponse']['params'];

/** What `POST …/pay` returned, reduced to what the surfaces need. */
export interface PayPreparation {
  readonly channel: PayChannel;
  /** `PayResponse.params`: the signed bundle for the surface, as the server sent it. */
  readonly params: Record<string, unknown>;
  /** H5: `params.h5Url`, the cashier URL. */
  readonly h5Url?: string;
  /** Native: `params.codeUrl`, to show as a QR code. */
  readonly codeUrl?: string;
}

/** What `GET …/orders/{id}` returned. */
export interface OrderStatus {
  readonly state: TradeState;
}

type Json = Record<string, unknown>;

/** Property names of any member of a union (`keyof` gives only the common ones). */
type FieldOf<T> = T extends unknown ? keyof T & string : never;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Field `name` of an answer typed `T`; the compiler checks the name against the document. */
function field<T>(o: Json, name: FieldOf<T>): unknown {
  return Object.prototype.hasOwnProperty.call(o, name) ? o[name] : undefined;
}

function text<T>(o: Json, name: FieldOf<T>): string | undefined {
  const v = field<T>(o, name);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `Error.error.code` / `.message` of an error answer, when it has that shape. */
function errorDetail(body: unknown): { code?: string; message?: string } {
  if (!isObject(body)) return {};
  const error = field<Schemas['Error']>(body, 'error');
  if (!isObject(error)) return {};
  type Detail = Schemas['Error']['error'];
  return { code: text<Detail>(error, 'code'), message: text<Detail>(error, 'message') };
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

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignalLike): Promise<Json> {
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
      const { code, message } = errorDetail(parsed);
      const detail = [code, message].filter((s) => s !== undefined).join(': ');
      throw new WxPayError('HTTP_STATUS', `${method} ${path}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`, {
        status: res.status,
      });
    }
    if (!isObject(parsed)) {
      throw new WxPayError('SERVER_RESPONSE', `${method} ${path}: expected a JSON object`);
    }
    return parsed;
  }

  /** Asks the server to prepare (or reuse) the prepay for `channel`. */
  async preparePay(orderId: string, channel: PayChannel, signal?: AbortSignalLike): Promise<PayPreparation> {
    type Pay = Paths['/api/orders/{out_trade_no}/pay']['post'];
    const request: Pay['requestBody'] = { channel };
    const body = await this.call('POST', `/api/orders/${encodeURIComponent(orderId)}/pay`, request, signal);
    const params = field<Pay['responses']['200']>(body, 'params');
    if (!isObject(params)) {
      throw new WxPayError('SERVER_RESPONSE', 'the pay answer has no `params` object');
    }
    return {
      channel,
      params,
      h5Url: text<PayParams>(params, 'h5Url'),
      codeUrl: text<PayParams>(params, 'codeUrl'),
    };
  }

  /**
   * JS-SDK `wx.config` parameters for the page (`GET /api/jssdk/config?url=…`). WeChat signs
   * the URL without its fragment; on iOS single-page apps pass the landing URL instead.
   */
  async jssdkConfig(pageUrl: string, signal?: AbortSignalLike): Promise<Record<string, unknown>> {
    const url = pageUrl.split('#')[0] ?? pageUrl;
    const query: Paths['/api/jssdk/config']['get']['parameters']['query'] = { url };
    return this.call('GET', `/api/jssdk/config?url=${encodeURIComponent(query.url)}`, undefined, signal);
  }

  /** Reads the order's state (the server queries WeChat itself when its record is stale). */
  async status(orderId: string, signal?: AbortSignalLike): Promise<OrderStatus> {
    type Get = Paths['/api/orders/{out_trade_no}']['get'];
    const body = await this.call('GET', `/api/orders/${encodeURIComponent(orderId)}`, undefined, signal);
    const state = text<Get['responses']['200']>(body, 'state');
    if (state === undefined) {
      throw new WxPayError('SERVER_RESPONSE', 'the order answer has no `state`');
    }
    return { state };
  }
}
