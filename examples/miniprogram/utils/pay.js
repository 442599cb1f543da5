// One payment client for the whole mini-program, from the package's `miniprogram` entry
// (构建 npm copies miniprogram_dist/ to miniprogram_npm/wxpay-client/, including the
// .wasm.br it loads with WXWebAssembly; base library ≥ 2.14.0).
const { createClient } = require('wxpay-client');
const { baseUrl, TOKEN_KEY } = require('./api');

let client;

function payClient() {
  if (!client) {
    client = createClient({
      baseUrl: baseUrl(),
      getSession: () => wx.getStorageSync(TOKEN_KEY),
    });
  }
  return client;
}

module.exports = { payClient };
