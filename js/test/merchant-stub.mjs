// A tiny stand-in for the merchant server's client API (`POST /api/orders/{id}/pay`,
// `GET /api/orders/{id}`), scripted per order. Unit-level only: the real wxpay-server +
// wxpay-sim end-to-end tests live in tests/.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

/** A signature-shaped value: 256 bytes of Base64 (the client checks format, not validity). */
export const PAY_SIGN = Buffer.alloc(256, 7).toString('base64');

export function jsapiBundle(overrides = {}) {
  return {
    appId: 'wx8888888888888888',
    timeStamp: '1700000000',
    nonceStr: 'n0nce5tr1ng',
    package: 'prepay_id=wx201410272009395522657a690389285100',
    signType: 'RSA',
    paySign: PAY_SIGN,
    ...overrides,
  };
}

/**
 * orders: { [id]: { params?: object | (channel) => object, states: string[],
 *                   payBody?: object, orderBody?: (state) => object } }
 * Each status query shifts the next state (the last one repeats). `payBody` / `orderBody`
 * replace the documented answers (to test that undocumented shapes are refused).
 */
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

/** `statics`: { '/prefix/': '/abs/dir' } served read-only (same origin as the API, no CORS). */
export async function startMerchantStub(orders, statics = {}) {
  const log = [];
  const server = createServer(async (req, res) => {
    for (const [prefix, dir] of req.url?.startsWith("/api/") ? [] : Object.entries(statics)) {
      if (req.url?.startsWith(prefix)) {
        const file = normalize(join(dir, decodeURIComponent(req.url.slice(prefix.length).split('?')[0])));
        if (!file.startsWith(dir)) break;
        try {
          const data = await readFile(file);
          res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
          res.end(data);
        } catch {
          res.writeHead(404);
          res.end();
        }
        return;
      }
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      log.push({ method: req.method, url: req.url, body, auth: req.headers.authorization ?? null });
      const send = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (req.method === 'GET' && req.url?.startsWith('/api/jssdk/config?url=')) {
        return send(200, { appId: 'wx8888888888888888', timestamp: 1700000000, nonceStr: 'cfgnonce', signature: 'a'.repeat(40), jsApiList: ['chooseWXPay'] });
      }
      const m = /^\/api\/orders\/([^/]+)(\/pay)?$/.exec(req.url ?? '');
      const order = m && orders[decodeURIComponent(m[1])];
      // Errors in the documented shape (`Error` in the server's OpenAPI document).
      if (!order) return send(404, { error: { code: 'order_not_found', message: 'no such order' } });
      if (m[2] && req.method === 'POST') {
        const { channel } = JSON.parse(body || '{}');
        const params = typeof order.params === 'function' ? order.params(channel) : order.params;
        if (order.payBody) return send(200, order.payBody);
        return send(200, { out_trade_no: m[1], channel, params });
      }
      if (!m[2] && req.method === 'GET') {
        const state = order.states.length > 1 ? order.states.shift() : order.states[0];
        if (order.orderBody) return send(200, order.orderBody(state));
        return send(200, { out_trade_no: m[1], state, amount_fen: 1 });
      }
      send(405, { error: { code: 'method_not_allowed', message: 'no' } });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise((r) => server.close(r)),
  };
}
