// Session and the merchant API over wx.request.
//
// Login: wx.login() gives a single-use code; the server trades it for the openid at WeChat
// (code2Session) and answers with its own session token. The session_key never leaves the
// server.
const TOKEN_KEY = 'wxpay-demo.token';

/** @typedef {{ id: string, name: string, price_fen: number }} Product */
/** @typedef {{ out_trade_no: string, state: string, amount_fen: number, description?: string }} Order */
/** @typedef {Error & { status?: number }} ApiError */

/** @returns {string} */
function baseUrl() {
  return /** @type {{ globalData: { baseUrl: string } }} */ (getApp()).globalData.baseUrl;
}

/**
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {WechatMiniprogram.IAnyObject} [data]
 * @param {string} [token]
 * @returns {Promise<unknown>}
 */
function request(method, path, data, token) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: baseUrl() + path,
      method,
      data,
      header: Object.assign({ 'content-type': 'application/json' }, token ? { authorization: `Bearer ${token}` } : {}),
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data);
        else {
          // The server's error shape: {"error": {"code", "message"}}.
          const body = /** @type {{ error?: { code?: string, message?: string } }} */ (res.data);
          const e = (body && body.error) || {};
          /** @type {ApiError} */
          const err = new Error(`${e.message || 'HTTP error'} (${e.code || res.statusCode})`);
          err.status = res.statusCode;
          reject(err);
        }
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

/** @returns {Promise<string>} */
function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (r) => (r.code ? resolve(r.code) : reject(new Error('wx.login gave no code'))), fail: (e) => reject(new Error(e.errMsg)) });
  });
}

/** @returns {string} the stored session token, or '' */
function storedToken() {
  return /** @type {string} */ (wx.getStorageSync(TOKEN_KEY)) || '';
}

/**
 * Logs in when there is no session yet (or when `force`).
 * @param {boolean} force
 * @returns {Promise<string>}
 */
async function ensureSession(force) {
  if (!force && storedToken()) return storedToken();
  const code = await wxLogin();
  const session = /** @type {{ token: string }} */ (await request('POST', '/api/login/miniprogram', { code }));
  wx.setStorageSync(TOKEN_KEY, session.token);
  return session.token;
}

/**
 * Calls the API with the session; logs in again once when the server says 401.
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {WechatMiniprogram.IAnyObject} [data]
 * @returns {Promise<unknown>}
 */
async function api(method, path, data) {
  const token = await ensureSession(false);
  try {
    return await request(method, path, data, token);
  } catch (e) {
    if (/** @type {ApiError} */ (e).status !== 401) throw e;
    return request(method, path, data, await ensureSession(true));
  }
}

module.exports = { api, ensureSession, baseUrl, TOKEN_KEY };
