// Session and the merchant API over uni.request, with per-platform login.
//
// MP-WEIXIN: uni.login gives the wx.login code → POST /api/login/miniprogram.
// APP-PLUS: an App logs users in with its own account system (or WeChat Open Platform
// login, which wxpay-server does not provide); set the token you get from it.
// (Never start a comment with the `#ifdef` directive itself: uni's preprocessor reads it as
// one, fails on the missing `#endif` and then compiles the whole file unprocessed.)
import { createClient } from 'wxpay-client/uniapp';

// Your wxpay-server (HTTPS in production; add it to the mini-program's request allow-list).
export const BASE_URL = 'https://pay.example.com';
const TOKEN_KEY = 'wxpay-demo.token';

function request(method, path, data, token) {
  return new Promise((resolve, reject) => {
    uni.request({
      url: BASE_URL + path,
      method,
      data,
      header: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) return resolve(res.data);
        const e = (res.data && res.data.error) || {};
        const err = new Error(`${e.message || 'HTTP error'} (${e.code || res.statusCode})`);
        err.status = res.statusCode;
        reject(err);
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

export async function ensureSession(force = false) {
  const stored = uni.getStorageSync(TOKEN_KEY);
  if (stored && !force) return stored;
  // #ifdef MP-WEIXIN
  const { code } = await new Promise((resolve, reject) => uni.login({ provider: 'weixin', success: resolve, fail: reject }));
  const session = await request('POST', '/api/login/miniprogram', { code });
  uni.setStorageSync(TOKEN_KEY, session.token);
  return session.token;
  // #endif
  // #ifndef MP-WEIXIN
  throw new Error('no session: log the user in with your app account system, then uni.setStorageSync("' + TOKEN_KEY + '", token)');
  // #endif
}

export async function api(method, path, data) {
  const token = await ensureSession();
  try {
    return await request(method, path, data, token);
  } catch (e) {
    if (e.status !== 401) throw e;
    return request(method, path, data, await ensureSession(true));
  }
}

let client;
/** One client: uni.request transport, uni.requestPayment in the right shape per platform. */
export function payClient() {
  if (!client) {
    client = createClient({
      baseUrl: BASE_URL,
      getSession: () => uni.getStorageSync(TOKEN_KEY),
      // The platform uni compiles for (mp-weixin / app / h5): picks the requestPayment shape.
      platform: { uniPlatform: process.env.UNI_PLATFORM },
    });
  }
  return client;
}
