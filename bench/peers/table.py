"""Prints the one table of scripts/bench-peers.sh from the checked result lines.

Usage: table.py CHECKED_JSONL FIXTURES_JSON MACHINE_TEXT

Rows 1-4 count operations per second of CPU time of the one thread (as `openssl speed` does
by default): each cell is the median of the rounds, and a ratio is taken within each round
(the implementations ran back to back) and then the median. Rows 5-6 count operations per
second of wall time, where other load on a shared machine can only slow a round down: each
cell is the best round and a ratio is best against best. The spread (max - min) / value is
shown beside each cell. Ratios above 1 mean ours is faster.

The OpenSSL column is the floor for rows 1-4: `openssl speed` for RSA-2048, SHA-256 over the
row's message length and, for row 3, AES-256-GCM over the 1 KiB resource.
"""

import json
import statistics
import sys
from collections import defaultdict

PEERS = ["wechatpayv3", "wechatpay-node-v3"]
ROWS = [
    ("1", "sign a v3 request", "sign", ["ours"]),
    ("2", "verify a response signature", "verify", ["ours"]),
    ("3", "verify + decrypt notification (1 KiB)", "notify", ["ours"]),
    ("4", "wx.requestPayment params (paySign)", "paysign", ["ours"]),
    ("5", "order + client params, c=1", "order_c1", ["ours-server", "ours-lib"]),
    ("5", "order + client params, c=32", "order_c32", ["ours-server", "ours-lib"]),
    ("6", "notifications processed, c=1", "notifications_c1", ["ours-server-full", "ours-server"]),
    ("6", "notifications processed, c=32", "notifications_c32", ["ours-server-full", "ours-server"]),
]
LABEL = {
    "ours": "wxpay-core",
    "ours-server": "wxpay-server",
    "ours-lib": "core + upstream client",
    "ours-server-full": "wxpay-server, FULL",
}
LABEL_NOTE = {
    "ours-server": "wxpay-server as shipped (WAL, synchronous=FULL)",
}


def main(checked_path, fixtures_path, machine_path):
    fx = json.load(open(fixtures_path))
    lines = [json.loads(l) for l in open(checked_path) if l.strip()]
    values = defaultdict(list)
    invalid = {}
    notes = defaultdict(set)
    for l in lines:
        key = (l["impl"], l["row"])
        values[key].append(l["ops_per_s"])
        if not l.get("valid", True):
            invalid[key] = l.get("note", "invalid output")
        elif l.get("note"):
            notes[key].add(l["note"])

    by_round = defaultdict(dict)  # (impl, row) -> {round: ops/s}
    for l in lines:
        by_round[(l["impl"], l["row"])][l.get("round")] = l["ops_per_s"]

    def wall_clock(row):
        return row.startswith(("order_", "notifications_"))

    def stat(impl, row):
        """(value, spread): the median for the CPU-time rows; for the wall-clock rows the best
        round, since load from outside the run can only slow a round down."""
        v = values.get((impl, row))
        if not v:
            return None
        value = max(v) if wall_clock(row) else statistics.median(v)
        spread = (max(v) - min(v)) / value if value else 0.0
        return value, spread

    # OpenSSL floor per row and round, from that round's primitive speeds.
    floors = defaultdict(dict)  # row -> {round: ops/s}
    lens = fx["message_len"]
    for r in sorted({l.get("round") for l in lines if l["impl"] == "openssl"}):
        prim = {l["row"]: l["ops_per_s"] for l in lines if l["impl"] == "openssl" and l.get("round") == r}
        sha = prim["sha256_bytes"]
        sign, verify, aes = 1 / prim["rsa_sign"], 1 / prim["rsa_verify"], 1 / prim["aes_gcm_bytes"]
        floors["sign"][r] = 1 / (sign + lens["sign"] / sha)
        floors["verify"][r] = 1 / (verify + lens["verify"] / sha)
        floors["notify"][r] = 1 / (verify + lens["notify"] / sha + lens["notify_aead"] * aes)
        floors["paysign"][r] = 1 / (sign + lens["paysign"] / sha)

    def ratio(mine, others):
        """Median over the rounds of mine / max(others) in that round."""
        per_round = []
        for r, value in mine.items():
            theirs = [o[r] for o in others if r in o]
            if theirs and max(theirs) > 0:
                per_round.append(value / max(theirs))
        return statistics.median(per_round) if per_round else None

    def cell(s, key=None):
        if key in invalid:
            return "INVALID"
        if s is None:
            return "-"
        med, spread = s
        mark = "*" if key in notes else ""
        return f"{med:,.0f}{mark} ±{spread * 100:.0f}%"

    print(open(machine_path).read().rstrip())
    print()
    head = f"{'#':<2} {'operation':<39} {'ours (which)':<24} {'ours/s':>14} {'wechatpayv3/s':>15} {'node-v3/s':>15} {'OpenSSL/s':>14} {'ours/peer':>9} {'ours/OSSL':>9}  goal"
    print(head)
    print("-" * len(head))
    for num, title, row, ours_impls in ROWS:
        peer_stats = {p: stat(p, row) for p in PEERS}
        peer_rounds = [by_round[(p, row)] for p in PEERS if (p, row) in by_round and (p, row) not in invalid]
        floor = statistics.median(floors[row].values()) if floors.get(row) else None
        for impl in ours_impls:
            ours = stat(impl, row)
            if ours is None:
                continue
            valid = (impl, row) not in invalid
            if not valid:
                vs_peer = None
            elif wall_clock(row):
                best_peer = max((max(p.values()) for p in peer_rounds), default=None)
                vs_peer = ours[0] / best_peer if best_peer else None
            else:
                vs_peer = ratio(by_round[(impl, row)], peer_rounds)
            vs_floor = ratio(by_round[(impl, row)], [floors[row]]) if valid and floors.get(row) else None
            if num in "1234":
                met = vs_peer is not None and vs_floor is not None and vs_peer >= 0.95 and vs_floor >= 1 / 1.2
                goal = "met" if met else "NOT met"
            else:
                goal = "met" if vs_peer and vs_peer >= 3 else "NOT met"
            print(
                f"{num:<2} {title:<39} {LABEL[impl]:<24} {cell(ours, (impl, row)):>14}"
                f" {cell(peer_stats['wechatpayv3'], ('wechatpayv3', row)):>15}"
                f" {cell(peer_stats['wechatpay-node-v3'], ('wechatpay-node-v3', row)):>15}"
                f" {(f'{floor:,.0f}' if floor else '-'):>14}"
                f" {(f'{vs_peer:.2f}x' if vs_peer else '-'):>9}"
                f" {(f'{vs_floor:.2f}x' if vs_floor else '-'):>9}  {goal}"
            )
    print()
    print("Rows 1-4: ops per second of the thread's CPU time (as openssl speed counts), median of the rounds; ratios are")
    print("  taken within each round (back-to-back runs), then the median. Rows 5-6: ops per second of wall time, best")
    print("  round (load from outside the run only slows a round down); ratio = best / best. ±spread = (max-min)/value.")
    print("  Ratios > 1 mean ours is faster.")
    print("Row 5: wxpay-server = its pay endpoint (prepay + paySign; orders created before the clock starts);")
    print("  core + upstream client = the same calls as a library; peers = a merchant loop on the SDK, min(c, cores) processes.")
    print("Goals: rows 1-4 ours/peer >= 0.95 (level) and ours/OpenSSL >= 0.83 (within 1.2x); rows 5-6 ours/peer >= 3.")
    print("OpenSSL floor = openssl speed: RSA-2048 + SHA-256 over the row's bytes (+ AES-256-GCM 1 KiB in row 3).")
    print("Row 6 peers and 'wxpay-server, FULL' fsync every commit (SQLite WAL, synchronous=FULL);")
    print("  'wxpay-server' as shipped also fsyncs every commit (FULL is the default); concurrent writes share a commit.")
    for key, text in sorted(invalid.items()):
        print(f"INVALID {key[0]} {key[1]}: {text}")
    for key, texts in sorted(notes.items()):
        print(f"* {key[0]} {key[1]}: {'; '.join(sorted(texts))}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
