/** Everything every entry point exports besides `createClient` / `init`. */
export { WxPayError, isWxPayError } from '../core/errors.js';
export type { WxPayErrorCode, CoreErrorCode, ClientErrorCode } from '../core/errors.js';
export { fetchTransport, miniProgramTransport } from '../core/transport.js';
export type { Transport, HttpRequest, HttpResponse, FetchLike } from '../core/transport.js';
export type * from '../core/types.js';
