"""The `wechatpayv3` SDK (PyPI) in the peer benchmark, driven by scripts/bench-peers.sh.

Commands (each prints JSON lines: impl, row, ops_per_s, ..., sample):
  micro FIXTURES SECONDS                 rows 1-4 with the SDK's own functions
  order SIM_URL FIXTURES C SECONDS PREFIX
                                         row 5: a minimal merchant loop on the SDK (prepay, then the
                                         signed wx.requestPayment parameters); C in-flight orders over
                                         min(C, cores) processes, as a merchant would deploy it
  serve-notify FIXTURES ORDERS DB        row 6: a minimal notify_url handler on the SDK writing to
                                         SQLite (WAL, synchronous=FULL); prints "listening URL"

The SDK is used unmodified except for its base URL (the simulator's), replaced the way
crates/wxpay-sim/tests/python/check_wechatpayv3.py does it.
"""

import http.server
import json
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core
from wechatpayv3.utils import build_authorization

IMPL = "wechatpayv3"


def load(fixtures_path):
    return json.loads(Path(fixtures_path).read_text())


def client(fx, base_url=None):
    """The SDK in certificate mode; the platform certificate comes from its cert_dir."""
    if base_url:
        Core._gate_way = property(lambda self: base_url, lambda self, value: None)
    universe = Path(fx["universe"])
    return WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=fx["mchid"],
        private_key=(universe / "apiclient_key.pem").read_text(),
        cert_serial_no=fx["merchant_serial"],
        appid=fx["appid"],
        apiv3_key=fx["apiv3_key"],
        notify_url="http://127.0.0.1:9/notify/v3/pay",
        cert_dir=fx["cert_dir"],
    )


def time_op(seconds, op):
    """Calls op for a short warm-up, then for `seconds` of wall time; operations per second of
    this thread's CPU time (what `openssl speed` divides by), so other load on the machine
    does not count against the SDK."""
    warm = min(0.2, seconds / 5)
    end = time.perf_counter() + warm
    while time.perf_counter() < end:
        op()
    start = time.perf_counter()
    cpu_start = time.thread_time()
    n = 0
    while True:
        op()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            cpu = time.thread_time() - cpu_start
            return n / (cpu if cpu > 0 else elapsed)


def emit(row, ops_per_s, sample=None, **extra):
    print(json.dumps({"impl": IMPL, "row": row, "ops_per_s": ops_per_s, "sample": sample, **extra}), flush=True)


def pay_params(wxpay, appid, prepay_id, timestamp, nonce):
    """wx.requestPayment's parameters; the SDK signs, the merchant builds the dict."""
    package = "prepay_id=" + prepay_id
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": wxpay.sign([appid, timestamp, nonce, package]),
    }


def micro(fx, seconds):
    wxpay = client(fx)
    core = wxpay._core
    req = fx["request"]

    def sign():
        return build_authorization(req["path"], req["method"], fx["mchid"], fx["merchant_serial"],
                                   core._private_key, data=req["body"], nonce_str=req["nonce"])

    emit("sign", time_op(seconds, sign), sign())

    resp = fx["response"]
    # What Core.request runs on every 2xx answer.
    verify = lambda body: core._verify_signature(resp["headers"], body)
    sample = {"valid": verify(resp["body"]), "tampered": verify('{"prepay_id":"wx0"}')}
    emit("verify", time_op(seconds, lambda: verify(resp["body"])), sample)

    note = fx["notification"]
    forged = fx["forged_tag_notification"]
    result = wxpay.callback(note["headers"], note["body"])
    sample = {
        "out_trade_no": result["resource"]["out_trade_no"],
        "transaction_id": result["resource"]["transaction_id"],
        "forged_tag_rejected": wxpay.callback(forged["headers"], forged["body"]) is None,
    }
    emit("notify", time_op(seconds, lambda: wxpay.callback(note["headers"], note["body"])), sample)

    ps = fx["paysign"]
    pay = lambda: pay_params(wxpay, ps["appid"], ps["prepay_id"], ps["timestamp"], ps["nonce"])
    emit("paysign", time_op(seconds, pay), pay())


def order_worker(base_url, fx, threads, seconds, prefix, queue):
    """One process: `threads` merchant threads placing orders until the window closes."""
    wxpay = client(fx, base_url)
    appid = fx["appid"]
    warm = min(1.0, max(0.2, seconds / 5))
    start = time.perf_counter() + warm
    end = start + seconds
    lock = threading.Lock()
    tally = {"ops": 0, "errors": 0, "first_error": None, "sample": None, "last": None}

    def place(i):
        code, msg = wxpay.pay(description="bench-peers order", out_trade_no=f"{prefix}{i}",
                              amount={"total": 1, "currency": "CNY"},
                              payer={"openid": "oBenchPeersPayer0001"}, pay_type=WeChatPayType.JSAPI)
        if code != 200:
            raise RuntimeError(f"prepay answered {code}: {msg}")
        prepay_id = json.loads(msg)["prepay_id"]
        return pay_params(wxpay, appid, prepay_id, str(int(time.time())), uuid.uuid4().hex.upper())

    def loop(t):
        i = t
        while time.perf_counter() < end:
            try:
                params = place(i)
                done = time.perf_counter()
                with lock:
                    if start <= done <= end:
                        tally["ops"] += 1
                        tally["last"] = done
                        tally["sample"] = tally["sample"] or params
            except Exception as exc:  # counted and reported; the check marks the row invalid
                with lock:
                    tally["errors"] += 1
                    tally["first_error"] = tally["first_error"] or repr(exc)
            i += threads

    workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    tally["secs"] = max(0.0, min(tally["last"] or end, end) - start)
    queue.put(tally)


def order(base_url, fx, concurrency, seconds, prefix):
    procs = max(1, min(concurrency, os.cpu_count() or 1))
    queue = multiprocessing.Queue()
    children = [
        multiprocessing.Process(target=order_worker,
                                args=(base_url, fx, concurrency // procs, seconds, f"{prefix}P{p}N", queue))
        for p in range(procs)
    ]
    for c in children:
        c.start()
    tallies = [queue.get() for _ in children]
    for c in children:
        c.join()
    ops = sum(t["ops"] for t in tallies)
    secs = max(t["secs"] for t in tallies)
    errors = sum(t["errors"] for t in tallies)
    first_error = next((t["first_error"] for t in tallies if t["first_error"]), None)
    sample = next((t["sample"] for t in tallies if t["sample"]), None)
    emit(f"order_c{concurrency}", ops / secs if secs else 0.0, sample,
         ops=ops, errors=errors, secs=secs, first_error=first_error, processes=procs)


SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (out_trade_no TEXT PRIMARY KEY, amount_fen INTEGER NOT NULL,
    state TEXT NOT NULL, transaction_id TEXT, paid_at INTEGER);
CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, out_trade_no TEXT, headers TEXT,
    body TEXT NOT NULL, received_at INTEGER NOT NULL);
"""


def open_db(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def serve_notify(fx, orders_path, db_path):
    """A notify_url handler as the SDK's README shows it, plus the ledger write: verify and
    decrypt with the SDK, check the order and amount, record the notification and mark the
    order paid in one transaction, and acknowledge only after the commit."""
    wxpay = client(fx)
    db = open_db(db_path)
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    for line in Path(orders_path).read_text().splitlines():
        o = json.loads(line)
        db.execute("INSERT OR IGNORE INTO orders VALUES (?, ?, 'NOTPAY', NULL, NULL)", (o["out_trade_no"], o["total"]))
    db.execute("COMMIT")
    local = threading.local()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k: v for k, v in self.headers.items()}
            try:
                result = wxpay.callback(headers, body)
            except Exception:
                result = None
            if not result or result.get("event_type") != "TRANSACTION.SUCCESS":
                return self.reply(401, {"code": "FAIL", "message": "verification failed"})
            tx = result["resource"]
            conn = getattr(local, "db", None) or open_db(db_path)
            local.db = conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT amount_fen FROM orders WHERE out_trade_no = ?",
                                   (tx["out_trade_no"],)).fetchone()
                if tx.get("mchid") != fx["mchid"] or row is None or row[0] != tx["amount"]["total"]:
                    conn.execute("ROLLBACK")
                    return self.reply(400, {"code": "FAIL", "message": "order or amount mismatch"})
                conn.execute("INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?, ?)",
                             (result["id"], tx["out_trade_no"], json.dumps(headers), body.decode(), int(time.time())))
                conn.execute("UPDATE orders SET state = 'SUCCESS', transaction_id = ?, paid_at = ? "
                             "WHERE out_trade_no = ? AND state != 'SUCCESS'",
                             (tx["transaction_id"], int(time.time()), tx["out_trade_no"]))
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                return self.reply(500, {"code": "FAIL", "message": "store failed"})
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening http://127.0.0.1:{server.server_address[1]}/notify", flush=True)
    server.serve_forever()


def main(argv):
    command = argv[1]
    if command == "micro":
        micro(load(argv[2]), float(argv[3]))
    elif command == "order":
        order(argv[2].rstrip("/"), load(argv[3]), int(argv[4]), float(argv[5]), argv[6])
    elif command == "serve-notify":
        serve_notify(load(argv[2]), argv[3], argv[4])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
