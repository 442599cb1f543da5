// Product list → create an order (the server prices it) → the pay page.
const { api, ensureSession } = require('../../utils/api');

Page({
  data: { products: [], busy: false, error: '' },

  async onLoad() {
    try {
      await ensureSession(false);
      const { products } = await api('GET', '/api/products');
      this.setData({ products: products.map((p) => Object.assign({}, p, { yuan: (p.price_fen / 100).toFixed(2) })) });
    } catch (e) {
      this.setData({ error: e.message });
    }
  },

  async buy(e) {
    this.setData({ busy: true, error: '' });
    try {
      const order = await api('POST', '/api/orders', { items: [{ product_id: e.currentTarget.dataset.id, quantity: 1 }] });
      wx.navigateTo({ url: `/pages/pay/pay?orderId=${encodeURIComponent(order.out_trade_no)}` });
    } catch (err) {
      this.setData({ error: err.message });
    } finally {
      this.setData({ busy: false });
    }
  },
});
