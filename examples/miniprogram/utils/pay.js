// One payment client for the whole mini-program, from the package's `miniprogram` entry
// (构建 npm copies miniprogram_dist/ to miniprogram_npm/wxpay-client/, including the
// .wasm.br it loads with WXWebAssembly; base library ≥ 2.14.0).
const { createClient, isWxPayError } = require('wxpay-client');
const { baseUrl, TOKEN_KEY } = require('./api');

/** @type {import('wxpay-client').WxPayClient | undefined} */
let client;

function payClient() {
  if (!client) {
    client = createClient({
      baseUrl: baseUrl(),
      getSession: () => /** @type {string} */ (wx.getStorageSync(TOKEN_KEY)),
    });
  }
  return client;
}

/**
 * A message for the page: `[CODE] message` for the package's errors, the message otherwise.
 * @param {unknown} e
 */
function errorText(e) {
  if (isWxPayError(e)) return `[${e.code}] ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** True when the payment or confirmation was stopped by our own AbortSignal. @param {unknown} e */
function isAborted(e) {
  return isWxPayError(e) && e.code === 'ABORTED';
}

module.exports = { payClient, errorText, isAborted };
