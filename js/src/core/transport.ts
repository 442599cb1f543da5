/**
 * HTTP transports: how the client talks to the merchant server on each platform.
 *
 * A transport sends one request and resolves with the status and the body text for any
 * HTTP status (the caller decides what a 4xx means); it rejects only when no response
 * arrived. `wx.request` and `uni.request` call `success` for every status, so they fit.
 */

import { WxPayError } from './errors.js';
import type { AbortSignalLike, HttpResponse, MiniProgramApi, Transport, UniApi } from './types.js';

export type { HttpRequest, HttpResponse, Transport } from './types.js';

/** The subset of `fetch` this package uses (so tests and polyfills can stand in). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignalLike; credentials?: 'include' | 'same-origin' | 'omit' },
) => Promise<{ status: number; text(): Promise<string> }>;

/** A transport over `fetch` (browsers, Node ≥ 18). Cookies are sent for same-origin servers. */
export function fetchTransport(fetchImpl?: FetchLike): Transport {
  return async (req) => {
    const f = fetchImpl ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (typeof f !== 'function') {
      throw new WxPayError('TRANSPORT', 'fetch is not available here; pass a transport to createClient');
    }
    let res;
    try {
      res = await f(req.url, {
        method: req.method,
        headers: { ...req.headers },
        body: req.body,
        signal: req.signal,
        credentials: 'same-origin',
      });
    } catch (e) {
      if (req.signal?.aborted) throw new WxPayError('ABORTED', 'request aborted', { cause: e });
      throw new WxPayError('TRANSPORT', `request to ${req.url} failed: ${String(e)}`, { cause: e });
    }
    return { status: res.status, body: await res.text() };
  };
}

/**
 * A transport over `wx.request` or `uni.request` (same option shape).
 *
 * The body is asked for as text (`dataType: 'text'`) so the client parses JSON itself and
 * sees exactly what the server sent; `success` fires for every status.
 */
export function miniProgramTransport(api: MiniProgramApi | UniApi): Transport {
  return (req) =>
    new Promise<HttpResponse>((resolve, reject) => {
      if (typeof api.request !== 'function') {
        reject(new WxPayError('TRANSPORT', 'request() is not available on the given platform object'));
        return;
      }
      if (req.signal?.aborted) {
        reject(new WxPayError('ABORTED', 'request aborted'));
        return;
      }
      const task = api.request({
        url: req.url,
        method: req.method,
        header: { ...req.headers },
        data: req.body,
        dataType: 'text',
        responseType: 'text',
        success: (res) => {
          const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? null);
          resolve({ status: res.statusCode, body });
        },
        fail: (err) => {
          const msg = err.errMsg ?? 'request:fail';
          reject(new WxPayError(req.signal?.aborted ? 'ABORTED' : 'TRANSPORT', `request to ${req.url} failed: ${msg}`));
        },
      });
      req.signal?.addEventListener('abort', () => {
        if (task && typeof task.abort === 'function') task.abort();
      }, { once: true });
    });
}
