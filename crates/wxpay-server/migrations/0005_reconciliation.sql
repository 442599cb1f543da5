-- Daily reconciliation against WeChat's trade bill: one row per run, one per difference.
CREATE TABLE reconciliation_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    bill_date       TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    -- reconciled | not_ready | too_old | refused | failed
    outcome         TEXT NOT NULL,
    detail          TEXT,
    bill_rows       INTEGER NOT NULL DEFAULT 0,
    matched         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reconciliation_runs_by_date ON reconciliation_runs (bill_date, id);

CREATE TABLE reconciliation_differences (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          INTEGER NOT NULL REFERENCES reconciliation_runs(id),
    kind            TEXT NOT NULL,
    out_trade_no    TEXT NOT NULL,
    out_refund_no   TEXT,
    wechat_fen      INTEGER,
    ledger_fen      INTEGER,
    -- repaired | reported
    resolution      TEXT NOT NULL,
    note            TEXT
);
CREATE INDEX reconciliation_differences_by_run ON reconciliation_differences (run_id);
