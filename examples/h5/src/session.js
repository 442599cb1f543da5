// Login and the merchant API, as a small fetch wrapper.
//
// A real page in WeChat's browser logs in with the OAuth redirect: WeChat sends the payer
// back with `?code=…`, and the page trades that code for a session at
// POST /api/login/oauth. That is handled here first. The local demo has no WeChat to redirect
// through, so when wxpay-server runs as the demo (--demo) the page asks it for a code
// minted by the in-process simulator (POST /api/demo/oauth-code; that route does not exist
// with a real merchant configuration) and then logs in through the same OAuth route.

const TOKEN_KEY = 'wxpay-demo.token';
const SIM_KEY = 'wxpay-demo.simulator';
const ORDERS_KEY = 'wxpay-demo.orders';

/** An API error with the server's `error.code`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(`${message} (${code}, HTTP ${status})`);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

/** The embedded simulator's base URL, when the demo login told us (local demo only). */
export function simulatorUrl() {
  return localStorage.getItem(SIM_KEY);
}

/**
 * The JSON body of an answer; an ApiError for a non-2xx status (the server's error shape is
 * `{"error": {"code", "message"}}`). Callers say which documented shape they expect.
 * @param {Response} res
 * @returns {Promise<unknown>}
 */
async function readJson(res) {
  const text = await res.text();
  /** @type {{ error?: { code?: string, message?: string } }} */
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(res.status, 'not_json', `unexpected answer: ${text.slice(0, 80)}`);
  }
  if (!res.ok) {
    const e = body.error ?? {};
    throw new ApiError(res.status, e.code ?? 'http_error', e.message ?? res.statusText);
  }
  return body;
}

/** @param {string} code @returns {Promise<{ token: string, openid: string }>} */
async function loginWithCode(code) {
  const res = await fetch('/api/login/oauth', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const session = /** @type {{ token: string, openid: string }} */ (await readJson(res));
  localStorage.setItem(TOKEN_KEY, session.token);
  return session;
}

/**
 * Makes sure there is a session token. Returns the openid when a login happened now.
 * Throws an ApiError with code `no_login` when neither an OAuth code nor the demo route exists.
 * @param {{ force?: boolean }} [options]
 * @returns {Promise<string | null>}
 */
export async function ensureSession({ force = false } = {}) {
  const url = new URL(location.href);
  const code = url.searchParams.get('code');
  if (code) {
    url.searchParams.delete('code');
    url.searchParams.delete('state');
    history.replaceState(null, '', url);
    return (await loginWithCode(code)).openid;
  }
  if (token() && !force) return null;
  const res = await fetch('/api/demo/oauth-code', { method: 'POST' });
  if (!res.ok) {
    throw new ApiError(
      res.status,
      'no_login',
      'No session. In production, send the payer through WeChat OAuth (snsapi_base) and back to this page with ?code=',
    );
  }
  const minted = /** @type {{ code: string, simulator_url?: string }} */ (await res.json());
  if (minted.simulator_url) localStorage.setItem(SIM_KEY, minted.simulator_url);
  return (await loginWithCode(minted.code)).openid;
}

/**
 * Calls the merchant API with the session; logs in again once on 401.
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {Record<string, string>} [extraHeaders]
 * @returns {Promise<unknown>}
 */
export async function api(method, path, body, extraHeaders = {}) {
  for (let attempt = 0; ; attempt++) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const t = token();
    if (t) headers.authorization = `Bearer ${t}`;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && attempt === 0) {
      localStorage.removeItem(TOKEN_KEY);
      await ensureSession({ force: true });
      continue;
    }
    return readJson(res);
  }
}

const ADMIN_KEY = 'wxpay-demo.admin-token';

/**
 * The merchant staff's credential for refunds (sent as X-Admin-Token; a payer's session is not
 * enough). In the demo (--demo) the server generated one at start and hands it out at
 * POST /api/demo/admin-token — asked afresh each time, since a restart makes a new one. With a
 * real merchant configuration that route does not exist: the staff member types the token
 * configured as server.admin_token, and it is kept for this tab only.
 * @param {{ forget?: boolean }} [options]
 * @returns {Promise<string>}
 */
export async function adminToken({ forget = false } = {}) {
  if (forget) sessionStorage.removeItem(ADMIN_KEY);
  const res = await fetch('/api/demo/admin-token', { method: 'POST' });
  if (res.ok) return /** @type {{ admin_token: string }} */ (await readJson(res)).admin_token;
  const kept = sessionStorage.getItem(ADMIN_KEY);
  if (kept) return kept;
  const typed = window.prompt('Admin token (server.admin_token) 管理员令牌');
  if (!typed) throw new ApiError(403, 'admin_required', 'refunds need the merchant admin token');
  sessionStorage.setItem(ADMIN_KEY, typed.trim());
  return typed.trim();
}

/**
 * Order ids created in this browser (the admin view lists them).
 * @returns {string[]}
 */
export function rememberedOrders() {
  try {
    const list = JSON.parse(localStorage.getItem(ORDERS_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** @param {string} id */
export function rememberOrder(id) {
  const list = rememberedOrders().filter((x) => x !== id);
  list.unshift(id);
  localStorage.setItem(ORDERS_KEY, JSON.stringify(list.slice(0, 50)));
}
