// Pays one order with wx.requestPayment, then lets the server decide.
//
// Also the page a web-view H5 hands over to (the package opens `/pages/pay/pay?orderId=…`
// from inside a <web-view>, where pages cannot pay themselves).
const { api } = require('../../utils/api');
const { payClient, errorText, isAborted } = require('../../utils/pay');
const { createAbort } = require('../../utils/abort');

/** @typedef {import('../../utils/api').Order} Order */

Page({
  data: { orderId: '', order: /** @type {Order | null} */ (null), yuan: '', paying: false, error: '' },
  /** The running payment's stop switch. @type {import('../../utils/abort').Abort | null} */
  abort: null,

  async onLoad(query) {
    const orderId = decodeURIComponent(query.orderId || '');
    this.setData({ orderId });
    try {
      const order = /** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(orderId)}`));
      this.setData({ order, yuan: (order.amount_fen / 100).toFixed(2) });
    } catch (e) {
      this.setData({ error: errorText(e) });
    }
  },

  onUnload() {
    if (this.abort) this.abort.abort();
  },

  async pay() {
    this.setData({ paying: true, error: '' });
    const abort = createAbort();
    this.abort = abort;
    try {
      // channel 'auto' → 'miniprogram' here: the server signs, the wasm core checks the
      // fields, wx.requestPayment runs, and the result is what the server reports. After a
      // few seconds without a verdict the result page takes over the polling, so a payer who
      // cancelled is not kept waiting.
      const result = await payClient().pay({
        orderId: this.data.orderId,
        channel: 'auto',
        timeoutMs: 10000,
        signal: abort.signal,
      });
      wx.redirectTo({
        url: `/pages/result/result?orderId=${encodeURIComponent(result.orderId)}&state=${result.state}&outcome=${result.client.outcome}`,
      });
    } catch (e) {
      if (isAborted(e)) return;
      this.setData({ error: errorText(e) });
    } finally {
      this.setData({ paying: false });
    }
  },
});
