// Product list → create an order (the server prices it) → the pay page.
const { api, ensureSession } = require('../../utils/api');
const { errorText } = require('../../utils/pay');

/** @typedef {import('../../utils/api').Product} Product */
/** @typedef {import('../../utils/api').Order} Order */

Page({
  data: { products: /** @type {Array<Product & { yuan: string }>} */ ([]), busy: false, error: '' },

  async onLoad() {
    try {
      await ensureSession(false);
      const { products } = /** @type {{ products: Product[] }} */ (await api('GET', '/api/products'));
      this.setData({ products: products.map((p) => Object.assign({}, p, { yuan: (p.price_fen / 100).toFixed(2) })) });
    } catch (e) {
      this.setData({ error: errorText(e) });
    }
  },

  /** @param {WechatMiniprogram.BaseEvent} e */
  async buy(e) {
    this.setData({ busy: true, error: '' });
    try {
      const productId = String(e.currentTarget.dataset.id);
      const order = /** @type {Order} */ (await api('POST', '/api/orders', { items: [{ product_id: productId, quantity: 1 }] }));
      wx.navigateTo({ url: `/pages/pay/pay?orderId=${encodeURIComponent(order.out_trade_no)}` });
    } catch (err) {
      this.setData({ error: errorText(err) });
    } finally {
      this.setData({ busy: false });
    }
  },
});
