// Shows what the SERVER says about the order, and keeps asking while it is unpaid (the
// notification may be late; the payer may come back from another app). Polling restarts
// on wx.onAppShow inside the package.
const { payClient, errorText, isAborted } = require('../../utils/pay');
const { createAbort } = require('../../utils/abort');

/** @type {Record<string, [string, string]>} */
const TEXT = {
  SUCCESS: ['paid', 'Paid 已支付'],
  REFUND: ['paid', 'Refunded 已退款'],
  CLOSED: ['not-paid', 'Closed 已关闭'],
};

Page({
  data: { orderId: '', cls: '', text: 'Checking… 查询中', note: '', checking: false },
  /** The running confirmation's stop switch. @type {import('../../utils/abort').Abort | null} */
  abort: null,

  onLoad(query) {
    const orderId = decodeURIComponent(query.orderId || '');
    this.setData({ orderId });
    if (query.outcome === 'cancel') this.setData({ note: 'You cancelled the payment 您取消了支付' });
    if (query.state) this.show(query.state);
    if (query.state !== 'SUCCESS' && query.state !== 'REFUND') this.confirm();
  },

  /** @param {string} state */
  show(state) {
    const [cls, text] = TEXT[state] || ['not-paid', 'Not paid 未支付'];
    this.setData({ cls, text });
  },

  onUnload() {
    if (this.abort) this.abort.abort();
  },

  async confirm() {
    this.setData({ checking: true });
    const abort = createAbort();
    this.abort = abort;
    try {
      const r = await payClient().confirm(this.data.orderId, { timeoutMs: 60000, signal: abort.signal });
      this.show(r.state);
    } catch (e) {
      if (!isAborted(e)) this.setData({ note: errorText(e) });
    } finally {
      this.setData({ checking: false });
    }
  },

  again() {
    wx.redirectTo({ url: `/pages/pay/pay?orderId=${encodeURIComponent(this.data.orderId)}` });
  },
});
