// The `wechatpay-node-v3` SDK (npm) in the peer benchmark, driven by scripts/bench-peers.sh.
//
// Commands (each prints JSON lines: impl, row, ops_per_s, ..., sample):
//   micro FIXTURES SECONDS                  rows 1-4 with the SDK's own functions
//   order SIM_URL FIXTURES C SECONDS PREFIX  row 5: a minimal merchant loop on the SDK
//                                           (transactions_jsapi: prepay + paySign); C in-flight
//                                           orders over min(C, cores) processes (a cluster)
//   serve-notify FIXTURES ORDERS DB         row 6: a minimal notify_url handler on the SDK writing to
//                                           SQLite (better-sqlite3, WAL, synchronous=FULL)
//
// The SDK is used unmodified. Its documented `createHttp` hook supplies the HTTP service: the
// SDK's own superagent, sending to the simulator instead of WeChat's host, and verifying each
// answer with the SDK's `verifySign`, which `transactions_jsapi` itself never calls (without it
// this loop would do less work than the others, and accept forged answers).
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const Pay = require('wechatpay-node-v3');
const Database = require('better-sqlite3');

// The SDK's own dependencies, resolved from where the SDK finds them.
const sdkDir = path.dirname(require.resolve('wechatpay-node-v3'));
const superagent = require(require.resolve('superagent', { paths: [sdkDir] }));
const { Certificate } = require(require.resolve('@fidm/x509', { paths: [sdkDir] }));

const IMPL = 'wechatpay-node-v3';

function load(fixturesPath) {
  return JSON.parse(fs.readFileSync(fixturesPath, 'utf8'));
}

function emit(row, ops, sample, extra) {
  process.stdout.write(`${JSON.stringify({ impl: IMPL, row, ops_per_s: ops, sample, ...extra })}\n`);
}

/** An SDK instance for the universe's merchant; the platform certificate is installed the way
 * the SDK's fetchCertificates stores it (serial -> public key PEM). */
function client(fx) {
  const universe = fx.universe;
  const pay = new Pay({
    appid: fx.appid,
    mchid: fx.mchid,
    publicKey: fs.readFileSync(path.join(universe, 'apiclient_cert.pem')),
    privateKey: fs.readFileSync(path.join(universe, 'apiclient_key.pem')),
    key: fx.apiv3_key,
  });
  const pem = fs.readFileSync(path.join(fx.cert_dir, 'platform_cert.pem'));
  Pay.certificates[fx.platform_serial] = Certificate.fromPEM(pem).publicKey.toPEM();
  return pay;
}

/** The HTTP service given to the SDK through createHttp. */
class SimulatorHttp {
  constructor(baseUrl, pay) {
    this.baseUrl = baseUrl;
    this.pay = pay;
  }

  target(url) {
    const u = new URL(url);
    return `${this.baseUrl}${u.pathname}${u.search}`;
  }

  async verified(res) {
    const h = res.headers;
    const ok = await this.pay.verifySign({
      timestamp: h['wechatpay-timestamp'],
      nonce: h['wechatpay-nonce'],
      serial: h['wechatpay-serial'],
      signature: h['wechatpay-signature'],
      body: res.text,
    });
    if (!ok) throw new Error('answer signature does not verify');
  }

  async post(url, params, headers) {
    try {
      const res = await superagent.post(this.target(url)).send(params).set(headers);
      await this.verified(res);
      return { status: res.status, data: res.body };
    } catch (err) {
      if (err.response) return { status: err.status, error: err.response.text };
      throw err;
    }
  }

  async get(url, headers) {
    const res = await superagent.get(this.target(url)).set(headers);
    return { status: res.status, data: res.body };
  }
}

/** Calls op for a short warm-up, then for `seconds` of wall time; operations per second of
 * this process's CPU time (what `openssl speed` divides by; the loop is single-threaded), so
 * other load on the machine does not count against the SDK. */
async function timeOp(seconds, op) {
  const warmEnd = performance.now() + Math.min(200, (seconds * 1000) / 5);
  while (performance.now() < warmEnd) await op();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let n = 0;
  for (;;) {
    await op();
    n += 1;
    const elapsed = performance.now() - start;
    if (elapsed >= seconds * 1000) {
      const cpu = process.cpuUsage(cpuStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      return (n * 1000) / (cpuMs > 0 ? cpuMs : elapsed);
    }
  }
}

/** wx.requestPayment's parameters exactly as transactions_jsapi builds them. */
function payParams(pay, appId, prepayId, timeStamp, nonceStr) {
  const data = { appId, timeStamp, nonceStr, package: `prepay_id=${prepayId}`, signType: 'RSA', paySign: '' };
  data.paySign = pay.sign([data.appId, data.timeStamp, data.nonceStr, data.package, ''].join('\n'));
  return data;
}

/** A notification as a merchant handles it with this SDK: verifySign, then decipher_gcm. */
async function handleNotification(pay, headers, body) {
  const ok = await pay.verifySign({
    timestamp: headers['wechatpay-timestamp'],
    nonce: headers['wechatpay-nonce'],
    serial: headers['wechatpay-serial'],
    signature: headers['wechatpay-signature'],
    body,
  });
  if (!ok) return null;
  const event = JSON.parse(body);
  const r = event.resource;
  return { event, resource: pay.decipher_gcm(r.ciphertext, r.associated_data, r.nonce) };
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

async function micro(fx, seconds) {
  const pay = client(fx);
  const req = fx.request;
  const sign = () => {
    const signature = pay.getSignature(req.method, req.nonce, String(req.timestamp), req.path, req.body);
    return pay.getAuthorization(req.nonce, String(req.timestamp), signature);
  };
  emit('sign', await timeOp(seconds, sign), sign());

  const resp = fx.response;
  const rh = lower(resp.headers);
  const verify = (body) =>
    pay.verifySign({
      timestamp: rh['wechatpay-timestamp'],
      nonce: rh['wechatpay-nonce'],
      serial: rh['wechatpay-serial'],
      signature: rh['wechatpay-signature'],
      body,
    });
  const vsample = { valid: await verify(resp.body), tampered: await verify('{"prepay_id":"wx0"}') };
  emit('verify', await timeOp(seconds, () => verify(resp.body)), vsample);

  const note = fx.notification;
  const nh = lower(note.headers);
  const got = await handleNotification(pay, nh, note.body);
  let forgedRejected;
  try {
    const forged = fx.forged_tag_notification;
    forgedRejected = (await handleNotification(pay, lower(forged.headers), forged.body)) === null;
  } catch (_) {
    forgedRejected = true;
  }
  const nsample = {
    out_trade_no: got.resource.out_trade_no,
    transaction_id: got.resource.transaction_id,
    forged_tag_rejected: forgedRejected,
  };
  emit('notify', await timeOp(seconds, () => handleNotification(pay, nh, note.body)), nsample);

  const ps = fx.paysign;
  const params = () => payParams(pay, ps.appid, ps.prepay_id, ps.timestamp, ps.nonce);
  emit('paysign', await timeOp(seconds, params), params());
}

async function orderWorker(baseUrl, fx, inflight, seconds, prefix) {
  const pay = client(fx);
  pay.createHttp(new SimulatorHttp(baseUrl, pay));
  const warm = Math.min(1000, Math.max(200, (seconds * 1000) / 5));
  const start = performance.now() + warm;
  const end = start + seconds * 1000;
  const tally = { ops: 0, errors: 0, first_error: null, sample: null, last: null };
  const loop = async (t) => {
    for (let i = t; performance.now() < end; i += inflight) {
      try {
        const result = await pay.transactions_jsapi({
          description: 'bench-peers order',
          out_trade_no: `${prefix}${i}`,
          notify_url: 'http://127.0.0.1:9/notify/v3/pay',
          amount: { total: 1, currency: 'CNY' },
          payer: { openid: 'oBenchPeersPayer0001' },
        });
        if (result.status !== 200 || !result.data.paySign) {
          throw new Error(`prepay answered ${result.status}: ${result.error}`);
        }
        const done = performance.now();
        if (done >= start && done <= end) {
          tally.ops += 1;
          tally.last = done;
          tally.sample = tally.sample || result.data;
        }
      } catch (err) {
        tally.errors += 1;
        tally.first_error = tally.first_error || String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, (_, t) => loop(t)));
  tally.secs = Math.max(0, Math.min(tally.last || end, end) - start) / 1000;
  return tally;
}

async function order(baseUrl, fixturesPath, concurrency, seconds, prefix) {
  const procs = Math.max(1, Math.min(concurrency, os.cpus().length));
  const children = Array.from({ length: procs }, (_, p) =>
    new Promise((resolve, reject) => {
      const child = childProcess.fork(__filename, [
        'order-worker', baseUrl, fixturesPath, String(Math.floor(concurrency / procs)), String(seconds), `${prefix}P${p}N`,
      ]);
      child.on('message', resolve);
      child.on('exit', (code) => code && reject(new Error(`worker exited ${code}`)));
    }));
  const tallies = await Promise.all(children);
  const ops = tallies.reduce((a, t) => a + t.ops, 0);
  const secs = Math.max(...tallies.map((t) => t.secs));
  emit(`order_c${concurrency}`, secs ? ops / secs : 0, tallies.map((t) => t.sample).find(Boolean) || null, {
    ops,
    errors: tallies.reduce((a, t) => a + t.errors, 0),
    secs,
    first_error: tallies.map((t) => t.first_error).find(Boolean) || null,
    processes: procs,
  });
}

function openDb(dbPath) {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

/** notify_url: verify and decrypt with the SDK, check the order and amount, record the
 * notification and mark the order paid in one transaction, acknowledge after the commit. */
function serveNotify(fx, ordersPath, dbPath) {
  const pay = client(fx);
  const db = openDb(dbPath);
  db.exec(`CREATE TABLE IF NOT EXISTS orders (out_trade_no TEXT PRIMARY KEY, amount_fen INTEGER NOT NULL,
             state TEXT NOT NULL, transaction_id TEXT, paid_at INTEGER);
           CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, out_trade_no TEXT, headers TEXT,
             body TEXT NOT NULL, received_at INTEGER NOT NULL);`);
  const insertOrder = db.prepare("INSERT OR IGNORE INTO orders VALUES (?, ?, 'NOTPAY', NULL, NULL)");
  db.transaction((lines) => {
    for (const line of lines) {
      const o = JSON.parse(line);
      insertOrder.run(o.out_trade_no, o.total);
    }
  })(fs.readFileSync(ordersPath, 'utf8').split('\n').filter(Boolean));

  const findOrder = db.prepare('SELECT amount_fen FROM orders WHERE out_trade_no = ?');
  const record = db.prepare('INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?, ?)');
  const markPaid = db.prepare(
    "UPDATE orders SET state = 'SUCCESS', transaction_id = ?, paid_at = ? WHERE out_trade_no = ? AND state != 'SUCCESS'",
  );
  const apply = db.transaction((event, tx, headers, body) => {
    const order = findOrder.get(tx.out_trade_no);
    if (tx.mchid !== fx.mchid || !order || order.amount_fen !== tx.amount.total) return false;
    const now = Math.floor(Date.now() / 1000);
    record.run(event.id, tx.out_trade_no, JSON.stringify(headers), body, now);
    markPaid.run(tx.transaction_id, now, tx.out_trade_no);
    return true;
  });

  const reply = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body ? JSON.stringify(body) : undefined);
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let got = null;
      try {
        got = await handleNotification(pay, req.headers, body);
      } catch (_) {
        got = null;
      }
      if (!got || got.event.event_type !== 'TRANSACTION.SUCCESS') {
        return reply(res, 401, { code: 'FAIL', message: 'verification failed' });
      }
      let applied;
      try {
        applied = apply.immediate(got.event, got.resource, req.headers, body);
      } catch (_) {
        return reply(res, 500, { code: 'FAIL', message: 'store failed' });
      }
      if (!applied) return reply(res, 400, { code: 'FAIL', message: 'order or amount mismatch' });
      res.writeHead(204);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${server.address().port}/notify\n`);
  });
}

async function main(argv) {
  const [command, ...args] = argv;
  if (command === 'micro') {
    await micro(load(args[0]), Number(args[1]));
  } else if (command === 'order') {
    await order(args[0].replace(/\/$/, ''), args[1], Number(args[2]), Number(args[3]), args[4]);
  } else if (command === 'order-worker') {
    const tally = await orderWorker(args[0], load(args[1]), Number(args[2]), Number(args[3]), args[4]);
    process.send(tally, () => process.exit(0));
  } else if (command === 'serve-notify') {
    serveNotify(load(args[0]), args[1], args[2]);
  } else {
    throw new Error(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`peers.js: ${err.stack || err}\n`);
  process.exit(1);
});
