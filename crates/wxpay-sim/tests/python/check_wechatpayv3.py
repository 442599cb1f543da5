"""Third-party check: the `wechatpayv3` SDK (which none of us wrote) against wxpay-sim.

Unmodified except for its base URL: `Core._gate_way` is replaced by a class-level property
that always answers the simulator's URL. Runs the whole flow in certificate mode, then
switches the simulator to public-key mode and runs it again with the WeChat Pay public key.

Usage: check_wechatpayv3.py BASE_URL UNIVERSE_DIR   (UNIVERSE_DIR as written by `wxpay-sim init`)
Exit status 0 and a final "N passed, 0 failed" line when everything works.
"""

import http.server
import json
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

BASE_URL = sys.argv[1].rstrip("/")
UNIVERSE = Path(sys.argv[2])

# The only change to the SDK: where it sends requests.
Core._gate_way = property(lambda self: BASE_URL, lambda self, value: None)

# merchant.toml is the wxpay-server configuration `wxpay-sim init` writes; secrets are files.
_config = tomllib.loads((UNIVERSE / "merchant.toml").read_text())["merchant"]
merchant = {
    "mchid": _config["mchid"],
    "merchant_serial": _config["serial_no"],
    "wechatpay_public_key_id": _config["public_key_id"],
    "apiv3_key": Path(_config["apiv3_key"]["file"]).read_text().strip(),
}
apps = {
    "mini-program": _config["miniprogram"]["appid"],
    "official-account": _config["official_account"]["appid"],
    "app": _config["app"]["appid"],
}
PRIVATE_KEY = (UNIVERSE / "apiclient_key.pem").read_text()
PUBLIC_KEY = (UNIVERSE / "pub_key.pem").read_text()

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE_URL + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


class Inbox:
    """A merchant notify_url: verifies + decrypts with the SDK and acknowledges only then."""

    def __init__(self):
        self.results = []
        self.wxpay = None
        inbox = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    result = inbox.wxpay.callback(headers, body)
                except Exception as exc:  # a probe or bad signature must not crash the merchant
                    result = None
                    print(f"     callback raised {exc!r}")
                inbox.results.append(result)
                self.send_response(200 if result else 401)
                self.end_headers()
                self.wfile.write(b'{"code":"SUCCESS","message":"OK"}' if result else b'{"code":"FAIL","message":"fail"}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ok = [r for r in self.results if r]
            if len(ok) >= count:
                return ok
            time.sleep(0.05)
        return [r for r in self.results if r]


def run(mode, inbox, prefix):
    kwargs = {}
    if mode == "public-key":
        kwargs = {"public_key": PUBLIC_KEY, "public_key_id": merchant["wechatpay_public_key_id"]}
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=merchant["mchid"],
        private_key=PRIVATE_KEY,
        cert_serial_no=merchant["merchant_serial"],
        appid=apps["official-account"],
        apiv3_key=merchant["apiv3_key"],
        notify_url=inbox.url,
        **kwargs,
    )
    inbox.wxpay = wxpay
    if mode == "certificate":
        check(f"[{mode}] certificates downloaded and decrypted", len(wxpay._core._certificates) >= 1)

    code, msg = wxpay.pay(description="测试商品", out_trade_no=f"{prefix}native01", amount={"total": 100},
                          pay_type=WeChatPayType.NATIVE)
    check(f"[{mode}] native prepay", code == 200 and "code_url" in json.loads(msg), msg)

    code, msg = wxpay.pay(description="测试商品", out_trade_no=f"{prefix}jsapi001", amount={"total": 100},
                          payer={"openid": "oPythonUser1"}, appid=apps["mini-program"], pay_type=WeChatPayType.JSAPI)
    check(f"[{mode}] jsapi prepay", code == 200 and "prepay_id" in json.loads(msg), msg)
    if code == 200:
        sign = wxpay.sign([apps["mini-program"], str(int(time.time())), "nonce", "prepay_id=" + json.loads(msg)["prepay_id"]])
        check(f"[{mode}] jsapi paySign produced", bool(sign))

    code, msg = wxpay.pay(description="测试商品", out_trade_no=f"{prefix}app00001", amount={"total": 100},
                          appid=apps["app"], pay_type=WeChatPayType.APP)
    check(f"[{mode}] app prepay", code == 200 and "prepay_id" in json.loads(msg), msg)

    code, msg = wxpay.pay(description="测试商品", out_trade_no=f"{prefix}h5000001", amount={"total": 100},
                          scene_info={"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
                          pay_type=WeChatPayType.H5)
    check(f"[{mode}] h5 prepay", code == 200 and "h5_url" in json.loads(msg), msg)

    code, msg = wxpay.query(out_trade_no=f"{prefix}native01")
    check(f"[{mode}] query by out_trade_no", code == 200 and json.loads(msg)["trade_state"] == "NOTPAY", msg)

    code, msg = wxpay.close(out_trade_no=f"{prefix}app00001")
    check(f"[{mode}] close is 204 and verified", code == 204, f"{code} {msg}")
    code, msg = wxpay.query(out_trade_no=f"{prefix}app00001")
    check(f"[{mode}] closed order reads CLOSED", code == 200 and json.loads(msg)["trade_state"] == "CLOSED", msg)

    before = len([r for r in inbox.results if r])
    control("POST", f"/__sim/orders/{prefix}native01/pay")
    got = inbox.wait(before + 1)
    check(f"[{mode}] TRANSACTION.SUCCESS verified + decrypted by the SDK", len(got) > before)
    if len(got) > before:
        res = got[-1]
        check(f"[{mode}] notification payload", res["event_type"] == "TRANSACTION.SUCCESS"
              and res["resource"]["out_trade_no"] == f"{prefix}native01", json.dumps(res, ensure_ascii=False))

    code, msg = wxpay.query(out_trade_no=f"{prefix}native01")
    tx = json.loads(msg)
    check(f"[{mode}] paid order reads SUCCESS", code == 200 and tx["trade_state"] == "SUCCESS", msg)
    code, msg = wxpay.query(transaction_id=tx.get("transaction_id"))
    check(f"[{mode}] query by transaction_id", code == 200 and json.loads(msg)["out_trade_no"] == f"{prefix}native01", msg)

    code, msg = wxpay.refund(out_refund_no=f"{prefix}refund01", amount={"refund": 40, "total": 100, "currency": "CNY"},
                             out_trade_no=f"{prefix}native01", notify_url=inbox.url)
    check(f"[{mode}] refund accepted", code == 200 and json.loads(msg)["status"] == "PROCESSING", msg)
    control("POST", f"/__sim/refunds/{prefix}refund01/succeed")
    got = inbox.wait(before + 2)
    check(f"[{mode}] REFUND.SUCCESS verified + decrypted", len(got) > before + 1
          and got[-1]["resource"]["refund_status"] == "SUCCESS")
    code, msg = wxpay.query_refund(out_refund_no=f"{prefix}refund01")
    check(f"[{mode}] query refund", code == 200 and json.loads(msg)["status"] == "SUCCESS", msg)

    code, msg = wxpay.query(out_trade_no="does_not_exist")
    check(f"[{mode}] unknown order is 404", code == 404, f"{code} {msg}")


inbox = Inbox()
# An openid belongs to the app that issued it: the JSAPI payer logs in to the mini-program first.
control("POST", "/__sim/login/code", {"appid": apps["mini-program"], "openid": "oPythonUser1"})
control("POST", "/__sim/signing-mode", {"mode": "certificate"})
run("certificate", inbox, "pyc")
# A probe notification must be rejected by the SDK and then retried with a real signature.
control("POST", "/__sim/faults/notify", {"probe": 1})
control("POST", "/__sim/signing-mode", {"mode": "public-key"})
run("public-key", inbox, "pyp")
deliveries = control("GET", "/__sim/notifications")
probes = [a for d in deliveries for a in d["attempts"] if a["probe"]]
check("SIGNTEST probe rejected by the SDK", bool(probes) and all(not a["acknowledged"] for a in probes))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
