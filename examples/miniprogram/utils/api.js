// Session and the merchant API over wx.request.
//
// Login: wx.login() gives a single-use code; the server trades it for the openid at WeChat
// (code2Session) and answers with its own session token. The session_key never leaves the
// server.
const TOKEN_KEY = 'wxpay-demo.token';

function baseUrl() {
  return getApp().globalData.baseUrl;
}

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
          const e = (res.data && res.data.error) || {};
          const err = new Error(`${e.message || 'HTTP error'} (${e.code || res.statusCode})`);
          err.status = res.statusCode;
          reject(err);
        }
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (r) => (r.code ? resolve(r.code) : reject(new Error('wx.login gave no code'))), fail: (e) => reject(new Error(e.errMsg)) });
  });
}

/** Logs in when there is no session yet (or when `force`). */
async function ensureSession(force) {
  if (!force && wx.getStorageSync(TOKEN_KEY)) return wx.getStorageSync(TOKEN_KEY);
  const code = await wxLogin();
  const session = await request('POST', '/api/login/miniprogram', { code });
  wx.setStorageSync(TOKEN_KEY, session.token);
  return session.token;
}

/** Calls the API with the session; logs in again once when the server says 401. */
async function api(method, path, data) {
  const token = await ensureSession(false);
  try {
    return await request(method, path, data, token);
  } catch (e) {
    if (e.status !== 401) throw e;
    return request(method, path, data, await ensureSession(true));
  }
}

module.exports = { api, ensureSession, baseUrl, TOKEN_KEY };
