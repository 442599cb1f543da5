/**
 * Errors of the client package.
 *
 * Every failure is a {@link WxPayError} with a stable `code`. Codes raised inside the wasm
 * core (parameter validation, QR rendering) arrive as JS `Error`s that already carry a
 * `code`; {@link toWxPayError} re-wraps them so callers see one class.
 */

/**
 * Codes from the wasm core: the bundle from the server does not fit the surface. The same list
 * as `codes::ALL` in `crates/wxpay-wasm/src/error.rs` (the module's `errorCodes()`); a test
 * compares the two.
 */
export const CORE_ERROR_CODES = [
  'BAD_INPUT',
  'UNKNOWN_SURFACE',
  'PARAM_MISSING',
  'PARAM_INVALID',
  'QR_TOO_LONG',
  'QR_UNAVAILABLE',
  'NOT_AN_OBJECT',
  'MISSING_FIELD',
  'MISNAMED_FIELD',
  'WRONG_TYPE',
  'INVALID_FIELD',
  'INVALID_URL',
] as const;

/** A code raised inside the wasm core (see {@link CORE_ERROR_CODES}). */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/** Codes raised by the TypeScript layer. */
export type ClientErrorCode =
  /** No WebAssembly (`WebAssembly` / `WXWebAssembly`) in this runtime. */
  | 'WASM_UNAVAILABLE'
  /** The module could not be fetched, compiled or instantiated. */
  | 'WASM_LOAD'
  /** The HTTP transport failed (network, timeout, `fail interrupted`). */
  | 'TRANSPORT'
  /** The merchant server answered with a non-2xx status. */
  | 'HTTP_STATUS'
  /** The merchant server's body is not the JSON this client expects. */
  | 'SERVER_RESPONSE'
  /** No payment surface fits the detected environment, or its API is missing. */
  | 'SURFACE_UNAVAILABLE'
  /** A required option is missing (e.g. `onQrCode` for the desktop flow). */
  | 'OPTION_MISSING'
  /** `WeixinJSBridgeReady` / `wx.ready` never fired. */
  | 'BRIDGE_TIMEOUT'
  /** The caller's `AbortSignal` fired. */
  | 'ABORTED';

/** Every `code` a {@link WxPayError} can carry. */
export type WxPayErrorCode = CoreErrorCode | ClientErrorCode;

const CORE_CODES: ReadonlySet<string> = new Set<string>(CORE_ERROR_CODES);

/** The one error class of the package. */
export class WxPayError extends Error {
  /** Stable machine-readable code. */
  readonly code: WxPayErrorCode;
  /** The field a validation error is about, when there is one. */
  readonly field: string | undefined;
  /** HTTP status for `HTTP_STATUS`. */
  readonly status: number | undefined;

  constructor(code: WxPayErrorCode, message: string, extra?: { field?: string; status?: number; cause?: unknown }) {
    super(message);
    this.name = 'WxPayError';
    this.code = code;
    this.field = extra?.field;
    this.status = extra?.status;
    if (extra?.cause !== undefined) {
      (this as { cause?: unknown }).cause = extra.cause;
    }
  }
}

/** True for a {@link WxPayError} (or a wasm-core error with a known code). */
export function isWxPayError(e: unknown): e is WxPayError {
  return e instanceof WxPayError;
}

/** Wraps anything thrown by the wasm core or a platform API into a {@link WxPayError}. */
export function toWxPayError(e: unknown, fallback: WxPayErrorCode = 'BAD_INPUT'): WxPayError {
  if (e instanceof WxPayError) return e;
  if (e !== null && typeof e === 'object') {
    const rec = e as { code?: unknown; message?: unknown; field?: unknown };
    const message = typeof rec.message === 'string' ? rec.message : String(e);
    if (typeof rec.code === 'string' && CORE_CODES.has(rec.code)) {
      return new WxPayError(rec.code as CoreErrorCode, message, {
        field: typeof rec.field === 'string' ? rec.field : undefined,
        cause: e,
      });
    }
    return new WxPayError(fallback, message, { cause: e });
  }
  return new WxPayError(fallback, String(e));
}
