-- Twin of ../0005_reconciliation.sql.
CREATE TABLE reconciliation_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bill_date       TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT,
    bill_rows       BIGINT NOT NULL DEFAULT 0,
    matched         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX reconciliation_runs_by_date ON reconciliation_runs (bill_date, id);

CREATE TABLE reconciliation_differences (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          BIGINT NOT NULL REFERENCES reconciliation_runs(id),
    kind            TEXT NOT NULL,
    out_trade_no    TEXT NOT NULL,
    out_refund_no   TEXT,
    wechat_fen      BIGINT,
    ledger_fen      BIGINT,
    resolution      TEXT NOT NULL,
    note            TEXT
);
CREATE INDEX reconciliation_differences_by_run ON reconciliation_differences (run_id);
