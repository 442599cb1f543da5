/**
 * Confirmation by polling the merchant server: the only way `pay()` learns the truth.
 *
 * The delays come from the wasm core's poll policy (a pure function of elapsed time,
 * attempt, last state and client outcome); this loop only sleeps and asks. It restarts at
 * full speed when the page or mini-program comes back to the foreground (the payer returns
 * from WeChat's cashier), stops on `AbortSignal`, and gives up at the overall timeout with
 * whatever state the server last reported.
 */

import type { Core, PollPolicyName } from './bindings.js';
import { WxPayError } from './errors.js';
import type { MerchantApi } from './server.js';
import type { AbortSignalLike, TradeState } from './types.js';

/** Something that can tell the loop the user came back (pageshow, visibilitychange, onAppShow). */
export interface Lifecycle {
  /** Registers `cb`; returns a function that unregisters it. */
  onResume(cb: () => void): () => void;
}

/** A lifecycle that never fires (Node, tests). */
export const NO_LIFECYCLE: Lifecycle = { onResume: () => () => undefined };

/** The settled (or timed-out) answer of the server. */
export interface Confirmation {
  readonly state: TradeState;
  readonly paid: boolean;
  readonly settled: boolean;
  readonly polls: number;
}

/** Everything the loop needs. */
export interface ConfirmArgs {
  readonly core: Core;
  readonly api: MerchantApi;
  readonly orderId: string;
  /** Which core policy paces the queries (after a client result, an H5 return, a QR code). */
  readonly policy: PollPolicyName;
  /** Overall time allowed in ms; 0 keeps the policy's own. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignalLike;
  readonly lifecycle: Lifecycle;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

function abortError(): WxPayError {
  return new WxPayError('ABORTED', 'payment confirmation aborted');
}

/** Sleeps `ms`, waking early on resume (returns true) and rejecting on abort. */
function sleep(ms: number, lifecycle: Lifecycle, signal?: AbortSignalLike): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let done = false;
    const finish = (resumed: boolean, err?: WxPayError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(resumed);
    };
    const onAbort = (): void => finish(false, abortError());
    const timer = setTimeout(() => finish(false), ms);
    const off = lifecycle.onResume(() => finish(true));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Polls until the core's policy says stop: the order is paid or ended, or time is up.
 * A resume (the payer is back from the cashier) restarts the backoff at its first, short
 * delay and queries at once.
 */
export async function confirmOrder(args: ConfirmArgs): Promise<Confirmation> {
  const now = args.now ?? Date.now;
  const start = now();
  let attempt = 0;
  let polls = 0;
  let state: TradeState | '' = '';
  let lastError: unknown;
  for (;;) {
    if (args.signal?.aborted) throw abortError();
    try {
      const st = await args.api.status(args.orderId, args.signal);
      polls += 1;
      state = st.state;
      lastError = undefined;
    } catch (e) {
      if (args.signal?.aborted) throw abortError();
      // 4xx other than 408/429 will not heal by waiting (unknown order, not your order).
      if (e instanceof WxPayError && e.code === 'HTTP_STATUS' && e.status !== undefined && e.status < 500 && e.status !== 408 && e.status !== 429) {
        throw e;
      }
      lastError = e;
    }
    attempt += 1;
    const step = args.core.pollNext(args.policy, now() - start, attempt, state, args.timeoutMs);
    if (step.action === 'stop') {
      if (state === '') throw lastError ?? new WxPayError('TRANSPORT', 'no order status could be read');
      const settled = step.value === 'paid' || step.value === 'ended';
      return { state, paid: args.core.stateInfo(state).paid, settled, polls };
    }
    const resumed = await sleep(step.value, args.lifecycle, args.signal);
    if (resumed) attempt = 0;
  }
}
