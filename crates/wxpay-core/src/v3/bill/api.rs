//! The two bill requests (申请交易账单 `GET /v3/bill/tradebill`, 申请资金账单
//! `GET /v3/bill/fundflowbill`), their signed answer, and when WeChat has a bill to give.
//!
//! Confirmed in WeChat's merchant docs (searched, pages for 申请交易账单 and 下载账单):
//! `bill_date` is `yyyy-MM-DD`, only the last three months; `bill_type` is `ALL` (default),
//! `SUCCESS` or `REFUND`; `tar_type=GZIP` asks for a gzip stream; the answer carries
//! `hash_type` (`SHA1`), `hash_value` — the digest of the *uncompressed* bill — and
//! `download_url`, fetched with a signed `Authorization` but answered unsigned. The bill
//! of a day is made after 10:00 (+08:00) the next day; before that WeChat answers 400
//! `STATEMENT_CREATING` (账单生成中), and 400 `NO_STATEMENT_EXIST` when the merchant had
//! no trade that day. The code for a date past three months is not documented beyond
//! 400 `INVALID_REQUEST` "请检查bill_date": we take any 400 on such a date as "too old".

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::v3::models::error_code;

/// `GET` trade bill.
pub const TRADE_BILL: &str = "/v3/bill/tradebill";
/// `GET` fund-flow bill.
pub const FUND_FLOW_BILL: &str = "/v3/bill/fundflowbill";
/// Where the simulator serves the files (WeChat's own `download_url` path has this shape).
pub const BILL_DOWNLOAD: &str = "/v3/billdownload/file";

/// Seconds east of UTC of WeChat's business day (+08:00).
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// A bill date, `YYYY-MM-DD` in China time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillDate(Date);

/// Why a bill date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bill_date is not a date in the form YYYY-MM-DD: {0:?}")]
pub struct BillDateError(pub String);

impl BillDate {
    /// Parses `YYYY-MM-DD` (exactly that form: no time, no other separators).
    pub fn parse(text: &str) -> Result<Self, BillDateError> {
        let format = format_description!("[year]-[month]-[day]");
        if text.len() != 10 {
            return Err(BillDateError(text.to_owned()));
        }
        Date::parse(text, format)
            .map(Self)
            .map_err(|_| BillDateError(text.to_owned()))
    }

    /// The date in China (+08:00) at `unix` seconds.
    pub fn in_china_at(unix: i64) -> Self {
        let offset = UtcOffset::from_whole_seconds(CHINA_OFFSET_SECS).unwrap_or(UtcOffset::UTC);
        let at = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self(at.to_offset(offset).date())
    }

    /// The day before (saturating at the earliest date `time` knows).
    pub fn previous(self) -> Self {
        Self(self.0.previous_day().unwrap_or(self.0))
    }

    /// Unix seconds of 00:00 (+08:00) on this date: the start of its business day.
    pub fn starts_at(self) -> i64 {
        self.0.midnight().assume_utc().unix_timestamp() - i64::from(CHINA_OFFSET_SECS)
    }

    /// Unix seconds when this date's business day ends (next day 00:00 +08:00).
    pub fn ends_at(self) -> i64 {
        self.starts_at() + 24 * 3600
    }

    /// Unix seconds from which WeChat gives this date's bill: 10:00 (+08:00) the next day.
    pub fn ready_at(self) -> i64 {
        self.ends_at() + 10 * 3600
    }

    /// Whether WeChat can give this date's bill at `now`.
    pub fn availability(self, now: i64) -> Availability {
        if now < self.ready_at() {
            return Availability::NotReady;
        }
        let today = Self::in_china_at(now).0;
        if self.0 < three_months_before(today) {
            return Availability::TooOld;
        }
        Availability::Ready
    }
}

impl std::fmt::Display for BillDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

/// The same day three calendar months earlier (the last day of that month when shorter).
fn three_months_before(date: Date) -> Date {
    let months = date.year() * 12 + i32::from(u8::from(date.month())) - 1 - 3;
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

/// When a date's bill can be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Made and still kept.
    Ready,
    /// Not made yet (the day is not over, or it is before 10:00 +08:00 the next day).
    NotReady,
    /// Older than three months: no longer given.
    TooOld,
}

/// Which rows a trade bill holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillType {
    /// Payments and refunds of the day.
    All,
    /// Payments only.
    Success,
    /// Refunds only.
    Refund,
}

impl BillType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
        }
    }

    /// Reads the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ALL" => Some(Self::All),
            "SUCCESS" => Some(Self::Success),
            "REFUND" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// `GET /v3/bill/tradebill?bill_date=…&bill_type=…[&tar_type=GZIP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBillRequest {
    /// The day.
    pub bill_date: BillDate,
    /// Which rows.
    pub bill_type: BillType,
    /// Ask for a gzip stream.
    pub gzip: bool,
}

impl TradeBillRequest {
    /// Path plus query, as signed and sent (every value is `[0-9A-Z-]`: nothing to escape).
    pub fn canonical_url(&self) -> String {
        let tar = if self.gzip { "&tar_type=GZIP" } else { "" };
        format!(
            "{TRADE_BILL}?bill_date={}&bill_type={}{tar}",
            self.bill_date,
            self.bill_type.as_str()
        )
    }

    /// Reads the query string (the simulator's side); `bill_type` defaults to `ALL`.
    pub fn from_query(query: &str) -> Result<Self, BillQueryError> {
        let q = Query::read(query)?;
        let bill_type = match q.get("bill_type") {
            None => BillType::All,
            Some(t) => BillType::parse(t).ok_or(BillQueryError::Invalid("bill_type"))?,
        };
        Ok(Self {
            bill_date: q.date()?,
            bill_type,
            gzip: q.gzip()?,
        })
    }
}

/// `GET /v3/bill/fundflowbill?bill_date=…&account_type=BASIC[&tar_type=GZIP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundFlowBillRequest {
    /// The day.
    pub bill_date: BillDate,
    /// `BASIC` (基本账户, the default), `OPERATION` or `FEES`.
    pub account_type: String,
    /// Ask for a gzip stream.
    pub gzip: bool,
}

impl FundFlowBillRequest {
    /// Path plus query, as signed and sent.
    pub fn canonical_url(&self) -> String {
        let tar = if self.gzip { "&tar_type=GZIP" } else { "" };
        format!(
            "{FUND_FLOW_BILL}?bill_date={}&account_type={}{tar}",
            self.bill_date, self.account_type
        )
    }

    /// Reads the query string; `account_type` defaults to `BASIC`.
    pub fn from_query(query: &str) -> Result<Self, BillQueryError> {
        let q = Query::read(query)?;
        let account_type = q.get("account_type").unwrap_or("BASIC");
        if !matches!(account_type, "BASIC" | "OPERATION" | "FEES") {
            return Err(BillQueryError::Invalid("account_type"));
        }
        Ok(Self {
            bill_date: q.date()?,
            account_type: account_type.to_owned(),
            gzip: q.gzip()?,
        })
    }
}

/// Why a bill request's query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillQueryError {
    /// A required parameter is missing.
    #[error("query parameter {0} is required")]
    Missing(&'static str),
    /// A parameter has a value WeChat does not take.
    #[error("query parameter {0} is invalid")]
    Invalid(&'static str),
}

impl BillQueryError {
    /// The parameter concerned.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Missing(f) | Self::Invalid(f) => f,
        }
    }
}

struct Query<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Query<'a> {
    fn read(query: &'a str) -> Result<Self, BillQueryError> {
        Ok(Self(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")))
                .collect(),
        ))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn date(&self) -> Result<BillDate, BillQueryError> {
        let raw = self
            .get("bill_date")
            .ok_or(BillQueryError::Missing("bill_date"))?;
        BillDate::parse(raw).map_err(|_| BillQueryError::Invalid("bill_date"))
    }

    fn gzip(&self) -> Result<bool, BillQueryError> {
        match self.get("tar_type") {
            None => Ok(false),
            Some("GZIP") => Ok(true),
            Some(_) => Err(BillQueryError::Invalid("tar_type")),
        }
    }
}

/// The signed answer to either bill request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillAnswer {
    /// Always `SHA1` today.
    pub hash_type: String,
    /// Lower-case hex SHA1 of the uncompressed bill.
    pub hash_value: String,
    /// Where to GET the file (signed request, unsigned answer; valid a few minutes).
    pub download_url: String,
}

/// A bill WeChat did not give, for a reason that is not a difference in the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillUnavailable {
    /// Not made yet: try after 10:00 (+08:00) the next day.
    NotReady,
    /// Older than three months.
    TooOld,
    /// No trade at all that day: the bill is empty.
    NoStatement,
}

impl BillUnavailable {
    /// Reads a (signed) refusal of a bill request for `date` at `now`; `None` for errors
    /// that are real failures (signature, system error, …).
    pub fn from_refusal(code: &str, date: BillDate, now: i64) -> Option<Self> {
        let availability = date.availability(now);
        match code {
            error_code::STATEMENT_CREATING => Some(Self::NotReady),
            error_code::NO_STATEMENT_EXIST => Some(match availability {
                Availability::NotReady => Self::NotReady,
                Availability::TooOld => Self::TooOld,
                Availability::Ready => Self::NoStatement,
            }),
            error_code::INVALID_REQUEST | error_code::PARAM_ERROR
                if availability == Availability::TooOld =>
            {
                Some(Self::TooOld)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> BillDate {
        BillDate::parse(s).expect("date")
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(date("2026-12-03").to_string(), "2026-12-03");
        for bad in [
            "2026-12-3",
            "20261203",
            "2026-13-01",
            "2026-02-30",
            " 2026-12-03",
            "",
        ] {
            assert!(BillDate::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_bill_is_ready_at_ten_the_next_morning_china_time() {
        let d = date("2026-12-03");
        // 2026-12-04 10:00 +08:00 is 02:00 UTC.
        let ten = 1_796_349_600;
        assert_eq!(d.ready_at(), ten);
        assert_eq!(d.availability(ten - 1), Availability::NotReady);
        assert_eq!(d.availability(ten), Availability::Ready);
        assert_eq!(BillDate::in_china_at(ten), date("2026-12-04"));
        // 2026-12-03 23:30 UTC is already 2026-12-04 in China.
        assert_eq!(
            BillDate::in_china_at(ten - 2 * 3600 - 1800),
            date("2026-12-04")
        );
    }

    #[test]
    fn three_months_back_is_kept_and_older_is_not() {
        let now = date("2026-05-31").ready_at();
        // Today in China is 2026-06-01; three months back is 2026-03-01.
        assert_eq!(date("2026-03-01").availability(now), Availability::Ready);
        assert_eq!(date("2026-02-28").availability(now), Availability::TooOld);
        assert_eq!(
            three_months_before(Date::from_calendar_date(2026, Month::May, 31).expect("d"))
                .to_string(),
            "2026-02-28"
        );
    }

    #[test]
    fn query_round_trips_and_refusals_classify() {
        let req = TradeBillRequest {
            bill_date: date("2026-12-03"),
            bill_type: BillType::Refund,
            gzip: true,
        };
        let url = req.canonical_url();
        assert_eq!(
            url,
            "/v3/bill/tradebill?bill_date=2026-12-03&bill_type=REFUND&tar_type=GZIP"
        );
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(TradeBillRequest::from_query(query), Ok(req));
        assert_eq!(
            TradeBillRequest::from_query("bill_type=ALL"),
            Err(BillQueryError::Missing("bill_date"))
        );
        let d = date("2026-12-03");
        assert_eq!(
            BillUnavailable::from_refusal("STATEMENT_CREATING", d, 0),
            Some(BillUnavailable::NotReady)
        );
        assert_eq!(
            BillUnavailable::from_refusal("NO_STATEMENT_EXIST", d, d.ready_at()),
            Some(BillUnavailable::NoStatement)
        );
        let later = date("2027-06-01").ready_at();
        assert_eq!(
            BillUnavailable::from_refusal("INVALID_REQUEST", d, later),
            Some(BillUnavailable::TooOld)
        );
        assert_eq!(
            BillUnavailable::from_refusal("INVALID_REQUEST", d, d.ready_at()),
            None
        );
        assert_eq!(
            BillUnavailable::from_refusal("SYSTEM_ERROR", d, later),
            None
        );
    }
}
