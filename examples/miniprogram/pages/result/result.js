// Shows what the SERVER says about the order, and keeps asking while it is unpaid (the
// notification may be late; the payer may come back from another app). Polling restarts
// on wx.onAppShow inside the package.
const { payClient } = require('../../utils/pay');
const { createAbort } = require('../../utils/abort');

const TEXT = {
  SUCCESS: ['paid', 'Paid 已支付'],
  REFUND: ['paid', 'Refunded 已退款'],
  CLOSED: ['not-paid', 'Closed 已关闭'],
};

Page({
  data: { orderId: '', cls: '', text: 'Checking… 查询中', note: '', checking: false },

  onLoad(query) {
    const orderId = decodeURIComponent(query.orderId || '');
    this.setData({ orderId });
    if (query.outcome === 'cancel') this.setData({ note: 'You cancelled the payment 您取消了支付' });
    if (query.state) this.show(query.state);
    if (query.state !== 'SUCCESS' && query.state !== 'REFUND') this.confirm();
  },

  show(state) {
    const [cls, text] = TEXT[state] || ['not-paid', 'Not paid 未支付'];
    this.setData({ cls, text });
  },

  onUnload() {
    if (this.abort) this.abort.abort();
  },

  async confirm() {
    this.setData({ checking: true });
    this.abort = createAbort();
    try {
      const r = await payClient().confirm(this.data.orderId, { timeoutMs: 60000, signal: this.abort.signal });
      this.show(r.state);
    } catch (e) {
      if (e.code !== 'ABORTED') this.setData({ note: e.message });
    } finally {
      this.setData({ checking: false });
    }
  },

  again() {
    wx.redirectTo({ url: `/pages/pay/pay?orderId=${encodeURIComponent(this.data.orderId)}` });
  },
});
