// The demo shop: product list → order → pay → result page, and an admin view with refunds.
//
// Views are chosen by the query string so that the H5 cashier can return to a plain URL:
//   /                         products
//   /?view=order&order=NO     one order, the pay button
//   /?view=result&order=NO    the redirect_url target: polls the server until it knows
//   /?view=admin              orders made in this browser, refund buttons, reconciliation runs
import { createClient, isWxPayError } from 'wxpay-client';
import { ApiError, adminToken, api, ensureSession, rememberOrder, rememberedOrders, simulatorUrl } from './session.js';

/** @typedef {{ id: string, name: string, price_fen: number }} Product */
/** @typedef {{ out_trade_no: string, state: string, amount_fen: number, refunded_fen: number, description: string }} Order */
/** @typedef {{ out_refund_no: string, status: string }} Refund */
/** @typedef {{ kind: string, out_trade_no: string, out_refund_no: string | null, wechat_fen: number | null, ledger_fen: number | null, resolution: string, note: string | null }} Difference */
/** @typedef {{ id: number, bill_date: string, outcome: string, detail: string | null, bill_rows: number, matched: number, differences: Difference[] }} Run */

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
let viewAbort = new AbortController();
/** @type {import('wxpay-client').WxPayClient | undefined} */
let client;

/** The payment client. Only the local simulator's cashier is allowed besides WeChat's. */
function payClient() {
  if (!client) {
    const sim = simulatorUrl();
    client = createClient({
      baseUrl: location.origin,
      getSession: () => localStorage.getItem('wxpay-demo.token'),
      // Leave both unset in production: then only WeChat's own cashier host is accepted.
      cashierHosts: sim ? [new URL(sim).host] : undefined,
      allowHttpCashier: !!sim && sim.startsWith('http:'),
    });
  }
  return client;
}

/** @param {number} fen */
const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | number)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') node.addEventListener('click', /** @type {EventListener} */ (v));
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/**
 * What the page says for a server state: [data-state, text].
 * @param {string} state
 * @returns {[string, string]}
 */
function describe(state) {
  switch (state) {
    case 'SUCCESS':
      return ['paid', 'Paid 已支付'];
    case 'REFUND':
      return ['refunded', 'Refunded 已退款'];
    case 'CLOSED':
    case 'REVOKED':
      return ['closed', 'Closed 已关闭'];
    case 'PAYERROR':
      return ['not-paid', 'Not paid: payment failed 未支付（支付失败）'];
    default:
      return ['not-paid', 'Not paid 未支付'];
  }
}

/** @param {unknown} e */
function showError(e) {
  console.error(e);
  const box = document.getElementById('message') ?? app;
  box.append(el('p', { class: 'error', id: 'error' }, e instanceof Error ? `${'code' in e && e.code ? `[${e.code}] ` : ''}${e.message}` : String(e)));
}

/** True for the package's error when our own AbortSignal stopped it. @param {unknown} e */
const aborted = (e) => isWxPayError(e) && e.code === 'ABORTED';

/** @param {string} search */
function go(search) {
  history.pushState(null, '', search || '/');
  route();
}

// ---------------------------------------------------------------- products

async function shopView() {
  app.replaceChildren(el('h1', {}, 'Products 商品'), el('p', { class: 'muted' }, 'Loading…'));
  const { products } = /** @type {{ products: Product[] }} */ (await api('GET', '/api/products'));
  const list = el('ul', { class: 'products' });
  for (const p of products) {
    const buy = el('button', { 'data-product': p.id }, 'Buy 购买');
    buy.addEventListener('click', async () => {
      buy.disabled = true;
      try {
        const order = /** @type {Order} */ (
          await api('POST', '/api/orders', { items: [{ product_id: p.id, quantity: 1 }] }, { 'Idempotency-Key': crypto.randomUUID() })
        );
        rememberOrder(order.out_trade_no);
        go(`?view=order&order=${encodeURIComponent(order.out_trade_no)}`);
      } catch (e) {
        buy.disabled = false;
        showError(e);
      }
    });
    list.append(el('li', {}, el('span', {}, `${p.name} · ${yuan(p.price_fen)}`), buy));
  }
  app.replaceChildren(el('h1', {}, 'Products 商品'), list, el('div', { id: 'message' }));
}

// ---------------------------------------------------------------- order + pay

/** Loads jweixin (the JS-SDK) unless the page already has it. */
function ensureJsSdk() {
  const sdk = /** @type {{ wx?: { chooseWXPay?: unknown } }} */ (/** @type {unknown} */ (window)).wx;
  if (sdk && typeof sdk.chooseWXPay === 'function') return Promise.resolve();
  return /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js';
    s.onload = () => resolve();
    s.onerror = () => reject(new Error('could not load the WeChat JS-SDK'));
    document.head.append(s);
  }));
}

/** @param {string} id */
async function orderView(id) {
  const order = /** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(id)}`));
  if (order.state !== 'NOTPAY' && order.state !== 'USERPAYING') return resultView(id);
  const env = await payClient().detect();
  const channel = el(
    'select',
    { id: 'channel' },
    ...['auto', 'jsapi', 'jssdk', 'h5', 'native'].map((c) => el('option', { value: c }, c)),
  );
  const payButton = el('button', { id: 'pay' }, 'Pay 支付');
  const qr = el('div', { id: 'qr' });
  const message = el('div', { id: 'message' });
  app.replaceChildren(
    el('h1', {}, order.description),
    el('p', {}, `Order 订单 `, el('code', { id: 'order-id' }, order.out_trade_no), ` · ${yuan(order.amount_fen)}`),
    el('p', { class: 'muted' }, 'Detected 环境: ', el('code', { id: 'env' }, env), ' · channel ', channel),
    payButton,
    qr,
    message,
  );
  payButton.addEventListener('click', async () => {
    payButton.disabled = true;
    message.replaceChildren(el('p', { id: 'paying', class: 'muted' }, 'Paying… 支付中'));
    const wanted = /** @type {'auto' | import('wxpay-client').PayChannel} */ (channel.value);
    const inWeChat = wanted === 'jsapi' || wanted === 'jssdk' || (wanted === 'auto' && env === 'we-chat-browser');
    try {
      if (wanted === 'jssdk') await ensureJsSdk();
      const result = await payClient().pay({
        orderId: id,
        channel: wanted,
        signal: viewAbort.signal,
        // WeChat returns to the page with the result; if the server has not seen the payment
        // after a few seconds, the result page keeps asking (a "cancel" must not wait a minute).
        timeoutMs: inWeChat ? 10_000 : undefined,
        redirectUrl: `${location.origin}/?view=result&order=${encodeURIComponent(id)}`,
        onQrCode: ({ svg, codeUrl }) => {
          qr.innerHTML = svg;
          qr.setAttribute('data-code-url', codeUrl);
          const sim = simulatorUrl();
          if (sim) {
            qr.append(
              el('p', {}, el('a', { id: 'scan-link', target: '_blank', href: `${sim}/__sim/scan?code_url=${encodeURIComponent(codeUrl)}` },
                'No phone? Open the simulator’s scan page 模拟扫码')),
            );
          }
          message.replaceChildren(el('p', { id: 'waiting' }, 'Scan with WeChat 请用微信扫码支付 — this page updates by itself'));
        },
      });
      history.replaceState(null, '', `?view=result&order=${encodeURIComponent(id)}`);
      await resultView(id, result);
    } catch (e) {
      payButton.disabled = false;
      if (!aborted(e)) showError(e);
    }
  });
}

// ---------------------------------------------------------------- result

/**
 * @param {string} id
 * @param {import('wxpay-client').PayResult} [first] what pay() resolved with, when it just did
 */
async function resultView(id, first) {
  const status = el('p', { id: 'status', 'data-state': 'checking' }, 'Checking… 查询中');
  const note = el('p', { id: 'note', class: 'muted' });
  const actions = el('p', {});
  app.replaceChildren(
    el('h1', {}, 'Payment result 支付结果'),
    el('p', {}, 'Order 订单 ', el('code', { id: 'order-id' }, id)),
    status,
    note,
    actions,
    el('div', { id: 'message' }),
  );
  /** @param {string} state */
  const show = (state) => {
    const [key, text] = describe(state);
    status.setAttribute('data-state', key);
    status.setAttribute('data-trade-state', state);
    status.textContent = text;
    return key;
  };
  /** @param {string} key */
  const settle = (key) => {
    actions.replaceChildren();
    if (key === 'not-paid') {
      actions.append(el('button', { id: 'pay-again', onclick: () => go(`?view=order&order=${encodeURIComponent(id)}`) }, 'Pay again 重新支付'));
    }
    if (key === 'paid') actions.append(el('a', { href: '/?view=admin' }, 'Admin: refund 管理：退款'));
  };

  /** @type {string} */
  let key;
  if (first) {
    key = show(first.state);
    const o = first.client.outcome;
    if (o === 'cancel') note.textContent = `You cancelled the payment 您取消了支付 (${first.client.raw})`;
    else if (o === 'fail') note.textContent = `WeChat reported a failure 支付失败 (${first.client.raw})`;
  } else {
    key = show(/** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(id)}`)).state);
  }
  settle(key);
  if (key !== 'not-paid') return;

  // Not paid as far as the server knows: keep asking (the payer may still be paying, or the
  // notification may be late; the server then queries WeChat itself).
  const polling = el('span', { id: 'polling', class: 'muted' }, ' · still checking 正在确认…');
  note.append(polling);
  try {
    const r = await payClient().confirm(id, { signal: viewAbort.signal, timeoutMs: 180_000 });
    settle(show(r.state));
  } catch (e) {
    if (!aborted(e)) showError(e);
  } finally {
    polling.remove();
  }
}

// ---------------------------------------------------------------- admin

/**
 * @param {string} refundNo
 * @param {AbortSignal} signal
 * @returns {Promise<Refund>}
 */
async function waitForRefund(refundNo, signal) {
  for (let i = 0; i < 120 && !signal.aborted; i++) {
    const refund = /** @type {Refund} */ (await api('GET', `/api/refunds/${encodeURIComponent(refundNo)}`));
    if (refund.status !== 'PROCESSING') return refund;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error('the refund is still processing; check again later');
}

/**
 * Refunds need the merchant's admin token (X-Admin-Token), not the payer's session.
 * @param {string} id
 * @param {{ amount_fen: number, reason: string }} body
 * @returns {Promise<Refund>}
 */
async function refundAsAdmin(id, body) {
  const path = `/api/orders/${encodeURIComponent(id)}/refunds`;
  try {
    return /** @type {Refund} */ (await api('POST', path, body, { 'X-Admin-Token': await adminToken() }));
  } catch (e) {
    // A token typed earlier may be stale: forget it and ask once more.
    if (!(e instanceof ApiError) || e.code !== 'invalid_admin_token') throw e;
    return /** @type {Refund} */ (await api('POST', path, body, { 'X-Admin-Token': await adminToken({ forget: true }) }));
  }
}

/**
 * An admin call with the merchant's token (asked again once when the one kept is stale).
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function asAdmin(method, path, body) {
  try {
    return await api(method, path, body, { 'X-Admin-Token': await adminToken() });
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'invalid_admin_token') throw e;
    return await api(method, path, body, { 'X-Admin-Token': await adminToken({ forget: true }) });
  }
}

/** @param {number | null} fen */
const money = (fen) => (fen === null ? '—' : yuan(fen));

/**
 * The last reconciliation runs (对账) and their differences, and a form to run one date.
 * @param {HTMLElement} section
 */
async function showReconciliations(section) {
  const date = el('input', { type: 'date', id: 'reconcile-date' });
  const yesterday = new Date(Date.now() + 8 * 3600e3 - 86400e3).toISOString().slice(0, 10);
  /** @type {HTMLInputElement} */ (date).value = yesterday;
  const run = el('button', { class: 'secondary', id: 'reconcile-run' }, 'Reconcile 对账');
  const list = el('div', { id: 'reconciliations' });
  section.replaceChildren(el('h2', {}, 'Reconciliation 对账'), el('p', {}, date, ' ', run), list);
  const render = async () => {
    const { runs } = /** @type {{ runs: Run[] }} */ (await asAdmin('GET', '/api/admin/reconciliations'));
    list.replaceChildren();
    if (runs.length === 0) list.append(el('p', { class: 'muted' }, 'No runs yet 暂无对账记录'));
    for (const r of runs.slice(0, 10)) {
      const summary = r.outcome === 'reconciled'
        ? `${r.bill_rows} rows, ${r.matched} matched, ${r.differences.length} differences`
        : r.detail ?? '';
      list.append(el('p', { 'data-run': String(r.id) }, el('strong', {}, `${r.bill_date} ${r.outcome}`), ` — ${summary}`));
      if (r.differences.length === 0) continue;
      const head = el('tr', {}, ...['Kind', 'Order', 'Refund', 'WeChat', 'Ledger', ''].map((h) => el('th', {}, h)));
      const body = el('tbody', {}, ...r.differences.map((d) => el('tr', { 'data-kind': d.kind },
        el('td', {}, d.kind), el('td', {}, el('code', {}, d.out_trade_no)), el('td', {}, d.out_refund_no ?? '—'),
        el('td', {}, money(d.wechat_fen)), el('td', {}, money(d.ledger_fen)), el('td', {}, d.resolution))));
      list.append(el('table', { class: 'differences' }, el('thead', {}, head), body));
    }
  };
  run.addEventListener('click', async () => {
    /** @type {HTMLButtonElement} */ (run).disabled = true;
    try {
      await asAdmin('POST', '/api/admin/reconciliations', { date: /** @type {HTMLInputElement} */ (date).value });
      await render();
    } catch (e) {
      showError(e);
    } finally {
      /** @type {HTMLButtonElement} */ (run).disabled = false;
    }
  });
  await render();
}

async function adminView() {
  const ids = rememberedOrders();
  const rows = el('tbody');
  const reconciliation = el('section', { id: 'reconciliation' });
  app.replaceChildren(
    el('h1', {}, 'Admin 管理'),
    el('p', { class: 'muted' }, 'Orders placed from this browser 本浏览器下的订单'),
    el('table', { id: 'orders' }, el('thead', {}, el('tr', {}, ...['Order', 'Amount', 'State', ''].map((h) => el('th', {}, h)))), rows),
    el('div', { id: 'message' }),
    reconciliation,
  );
  showReconciliations(reconciliation).catch(showError);
  if (ids.length === 0) rows.append(el('tr', {}, el('td', { colspan: 4 }, 'No orders yet 暂无订单')));
  for (const id of ids) {
    /** @type {Order} */
    let order;
    try {
      order = /** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) continue; // another session's order
      throw e;
    }
    const state = el('td', { class: 'state' });
    const action = el('td', {});
    const row = el('tr', { 'data-order': id }, el('td', {}, el('code', {}, id)), el('td', {}, yuan(order.amount_fen)), state, action);
    /** @param {Order} o */
    const render = (o) => {
      const [key, text] = describe(o.state);
      state.setAttribute('data-state', key);
      state.textContent = o.refunded_fen > 0 && o.state !== 'REFUND' ? `${text} (refunded ${yuan(o.refunded_fen)})` : text;
      action.replaceChildren();
      if (o.state === 'SUCCESS' && o.refunded_fen < o.amount_fen) {
        const button = el('button', { class: 'secondary refund' }, 'Refund 退款');
        button.addEventListener('click', async () => {
          button.disabled = true;
          state.setAttribute('data-state', 'refunding');
          state.textContent = 'Refunding… 退款中';
          try {
            const refund = await refundAsAdmin(id, {
              amount_fen: o.amount_fen - o.refunded_fen,
              reason: 'demo refund',
            });
            const done = await waitForRefund(refund.out_refund_no, viewAbort.signal);
            if (done.status !== 'SUCCESS') throw new Error(`refund ${done.status}`);
            render(/** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(id)}`)));
          } catch (e) {
            showError(e);
            render(/** @type {Order} */ (await api('GET', `/api/orders/${encodeURIComponent(id)}`)));
          }
        });
        action.append(button);
      }
    };
    render(order);
    rows.append(row);
  }
}

// ---------------------------------------------------------------- routing

async function route() {
  viewAbort.abort();
  viewAbort = new AbortController();
  const q = new URLSearchParams(location.search);
  const id = q.get('order');
  try {
    const openid = await ensureSession();
    const who = document.getElementById('who');
    if (openid && who) who.textContent = `openid ${openid}`;
    switch (q.get('view')) {
      case 'order':
        if (id) return await orderView(id);
        break;
      case 'result':
        if (id) return await resultView(id);
        break;
      case 'admin':
        return await adminView();
    }
    await shopView();
  } catch (e) {
    app.replaceChildren(el('div', { id: 'message' }));
    showError(e);
  }
}

window.addEventListener('popstate', route);
route();
