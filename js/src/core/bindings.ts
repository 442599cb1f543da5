/**
 * The functions exported by the wasm core (`crates/wxpay-wasm`), and a typed wrapper.
 *
 * Structured values cross the boundary as JSON text: it keeps the generated glue small and
 * free of `BigInt`, and the same glue works in browsers, Node and mini-programs.
 */

import { WxPayError, toWxPayError } from './errors.js';
import { isCoreChannel, isEnvironment, type CoreChannel } from './ids.js';
import type { ClientOutcome, Environment, Outcome, Surface, TradeState } from './types.js';

/** Raw exports of the wasm module (names as in `#[wasm_bindgen(js_name = …)]`). */
export interface CoreBindings {
  coreVersion(): string;
  formatParams(surface: string, paramsJson: string, optionsJson: string): string;
  detectEnv(userAgent: string, hintsJson: string): string;
  normaliseResult(surface: string, rawJson: string): string;
  pollNext(policy: string, elapsedMs: number, attempt: number, lastState: string, timeoutMs: number, randomUnit: number): string;
  tradeStateInfo(state: string): string;
  defaultChannel(environment: string): string;
}

/** Signals gathered by the TypeScript layer for environment detection in the core. */
export interface EnvHints {
  userAgent: string;
  hasWindow: boolean;
  hasWxRequestPayment: boolean;
  hasPlus: boolean;
  hasUni: boolean;
  uniPlatform: string | null;
  wxjsEnvironment: string | null;
  maxTouchPoints: number;
}

/** The core's named poll policies. */
export type PollPolicyName = 'h5-return' | 'native-qr' | 'after-client-result';

/** One polling decision of the core. */
export type PollStep =
  | { readonly action: 'wait'; readonly value: number }
  | { readonly action: 'stop'; readonly value: 'paid' | 'ended' | 'timed_out' | 'attempts_exhausted' };

/** Renders text as an SVG QR code (the separately loaded QR module). */
export type QrRenderer = (text: string, minSize: number) => string;

/** Wraps a raw QR export so its errors become `WxPayError`s. */
export function qrRenderer(raw: (text: string, minSize: number) => string): QrRenderer {
  return (text, minSize) => {
    try {
      return raw(text, minSize);
    } catch (e) {
      throw toWxPayError(e);
    }
  };
}

/** Validator settings (H5 cashier hosts for a local simulator). */
export interface FormatOptions {
  h5Hosts?: readonly string[];
  allowHttp?: boolean;
}

/** A typed façade over {@link CoreBindings}; converts errors to `WxPayError`. */
export class Core {
  constructor(private readonly raw: CoreBindings) {}

  version(): string {
    return this.raw.coreVersion();
  }

  /** Validates the server's bundle for `surface` and returns the object to pass to the platform. */
  format(surface: Surface, params: unknown, options?: FormatOptions): Record<string, unknown> {
    try {
      const opts = options ? JSON.stringify(options) : '';
      return JSON.parse(this.raw.formatParams(surface, JSON.stringify(params), opts)) as Record<string, unknown>;
    } catch (e) {
      throw toWxPayError(e);
    }
  }

  detect(hints: EnvHints): Environment {
    const id = this.raw.detectEnv(hints.userAgent, JSON.stringify(hints));
    if (!isEnvironment(id)) throw new WxPayError('SURFACE_UNAVAILABLE', `the core reported an unknown environment "${id}"`);
    return id;
  }

  /** The core's channel for an environment; `undefined` where it has none (`unknown`). */
  defaultChannel(environment: Environment): CoreChannel | undefined {
    const id = this.raw.defaultChannel(environment);
    if (id === '') return undefined;
    if (!isCoreChannel(id)) throw new WxPayError('SURFACE_UNAVAILABLE', `the core reported an unknown channel "${id}"`);
    return id;
  }

  normalise(surface: Surface, raw: unknown): ClientOutcome {
    const parsed = JSON.parse(this.raw.normaliseResult(surface, JSON.stringify(raw ?? null))) as {
      outcome: Outcome;
      raw: string;
      errCode?: number | null;
    };
    return parsed.errCode == null
      ? { outcome: parsed.outcome, raw: parsed.raw }
      : { outcome: parsed.outcome, raw: parsed.raw, errCode: parsed.errCode };
  }

  /** The next polling step; `timeoutMs` 0 keeps the policy's own overall timeout. */
  pollNext(policy: PollPolicyName, elapsedMs: number, attempt: number, state: TradeState | '', timeoutMs: number): PollStep {
    const clamp = (n: number): number => Math.max(0, Math.min(0xffffffff, Math.floor(n)));
    return JSON.parse(
      this.raw.pollNext(policy, clamp(elapsedMs), clamp(attempt), state, clamp(timeoutMs), Math.random()),
    ) as PollStep;
  }

  /** Whether a trade state is final and whether it means paid (rules from the core). */
  stateInfo(state: TradeState): { final: boolean; paid: boolean } {
    return JSON.parse(this.raw.tradeStateInfo(state)) as { final: boolean; paid: boolean };
  }

}
