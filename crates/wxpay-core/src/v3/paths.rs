//! Endpoint paths of API v3 (protocol.md A.9) and the canonical URL each request signs.
//!
//! The canonical URL is the path plus query exactly as sent (A.2), so the same string must
//! go into the `Authorization` signature and onto the wire: build it once here and use it
//! for both. Path segments are percent-encoded like the official Go SDK's `PathEscape`
//! (`|` becomes `%7C`, `*` becomes `%2A`); ids are typed, so nothing else needs encoding.
//!
//! [`Endpoint::parse`] is the inverse, for the simulator's router.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::ids::{IdError, MchId, OutRefundNo, OutTradeNo, TransactionId};
use crate::v3::bill::api::{
    BillQueryError, FundFlowBillRequest, TradeBillRequest, BILL_DOWNLOAD, FUND_FLOW_BILL,
    TRADE_BILL,
};
use crate::v3::models::{error_code, ErrorBody, ParamErrorDetail, PrepayKind};

/// The primary API host.
pub const HOST: &str = "https://api.mch.weixin.qq.com";
/// The backup host (another region); retry there on connection failures.
pub const BACKUP_HOST: &str = "https://api2.mch.weixin.qq.com";

/// `POST` JSAPI / mini-program prepay.
pub const PREPAY_JSAPI: &str = "/v3/pay/transactions/jsapi";
/// `POST` APP prepay.
pub const PREPAY_APP: &str = "/v3/pay/transactions/app";
/// `POST` H5 prepay.
pub const PREPAY_H5: &str = "/v3/pay/transactions/h5";
/// `POST` Native prepay.
pub const PREPAY_NATIVE: &str = "/v3/pay/transactions/native";
/// `POST` refund.
pub const REFUNDS: &str = "/v3/refund/domestic/refunds";
/// `GET` platform certificates.
pub const CERTIFICATES: &str = "/v3/certificates";

const TRANSACTIONS_BY_ID: &str = "/v3/pay/transactions/id/";
const TRANSACTIONS_BY_OUT_TRADE_NO: &str = "/v3/pay/transactions/out-trade-no/";

/// Characters left unescaped in a path segment: unreserved plus `$&+:=@` (Go `PathEscape`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b':')
    .remove(b'=')
    .remove(b'@');

fn segment(value: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(value, SEGMENT)
}

/// The prepay path of `kind`.
pub fn prepay(kind: PrepayKind) -> &'static str {
    match kind {
        PrepayKind::Jsapi => PREPAY_JSAPI,
        PrepayKind::App => PREPAY_APP,
        PrepayKind::H5 => PREPAY_H5,
        PrepayKind::Native => PREPAY_NATIVE,
    }
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid={mchid}`.
pub fn query_by_transaction_id(transaction_id: &TransactionId, mchid: &MchId) -> String {
    format!(
        "{TRANSACTIONS_BY_ID}{}?mchid={}",
        segment(transaction_id.as_str()),
        segment(mchid.as_str())
    )
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}`.
pub fn query_by_out_trade_no(out_trade_no: &OutTradeNo, mchid: &MchId) -> String {
    format!(
        "{TRANSACTIONS_BY_OUT_TRADE_NO}{}?mchid={}",
        segment(out_trade_no.as_str()),
        segment(mchid.as_str())
    )
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` (answers 204).
pub fn close(out_trade_no: &OutTradeNo) -> String {
    format!(
        "{TRANSACTIONS_BY_OUT_TRADE_NO}{}/close",
        segment(out_trade_no.as_str())
    )
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
pub fn refund_query(out_refund_no: &OutRefundNo) -> String {
    format!("{REFUNDS}/{}", segment(out_refund_no.as_str()))
}

/// HTTP method of a v3 endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method as it appears in the signed message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One v3 endpoint with its path parameters: a request as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Prepay of one kind (POST, JSON body).
    Prepay(PrepayKind),
    /// Query an order by WeChat's number (GET).
    QueryByTransactionId {
        /// WeChat's order number.
        transaction_id: TransactionId,
        /// The merchant, in the query string.
        mchid: MchId,
    },
    /// Query an order by the merchant's number (GET).
    QueryByOutTradeNo {
        /// The merchant's order number.
        out_trade_no: OutTradeNo,
        /// The merchant, in the query string.
        mchid: MchId,
    },
    /// Close an unpaid order (POST `{"mchid"}`, answers 204).
    Close {
        /// The merchant's order number.
        out_trade_no: OutTradeNo,
    },
    /// Request a refund (POST).
    Refund,
    /// Query a refund (GET).
    RefundQuery {
        /// The merchant's refund number.
        out_refund_no: OutRefundNo,
    },
    /// Download platform certificates (GET).
    Certificates,
    /// Ask for a trade bill's download URL (GET).
    TradeBill(TradeBillRequest),
    /// Ask for a fund-flow bill's download URL (GET).
    FundFlowBill(FundFlowBillRequest),
    /// Download a bill file (GET; signed request, unsigned answer).
    BillDownload {
        /// The single-use token of the `download_url`.
        token: String,
    },
}

/// Why a request line names no known endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No v3 endpoint has this path.
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// The path exists but not with this method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method received.
        method: String,
        /// The path.
        path: String,
    },
    /// A required query parameter is missing.
    #[error("query parameter {0} is required")]
    MissingQuery(&'static str),
    /// A query parameter has a value the endpoint does not take.
    #[error("query parameter {0} is invalid")]
    InvalidQuery(&'static str),
    /// A path or query parameter is not a valid id.
    #[error("invalid {field}")]
    BadId {
        /// Which parameter.
        field: &'static str,
        /// Why.
        #[source]
        source: IdError,
    },
    /// A percent-escape decodes to invalid UTF-8.
    #[error("invalid percent-encoding in {0}")]
    Encoding(&'static str),
}

impl PathError {
    /// The answer WeChat gives a request line it cannot route: 404 for a path or method it
    /// does not serve, 400 `PARAM_ERROR` naming the query or path parameter otherwise
    /// (`detail.field` is then the parameter's name, as the API v3 rules say).
    pub fn to_error_body(&self) -> ErrorBody {
        let param = |field: &str, issue: String| {
            // `mchid` is the only query parameter the endpoints here take.
            let in_query = matches!(
                field,
                "mchid" | "bill_date" | "bill_type" | "tar_type" | "account_type" | "token"
            );
            let detail = if in_query {
                ParamErrorDetail::in_query(field, None, issue)
            } else {
                ParamErrorDetail::in_url(field, None, issue)
            };
            ErrorBody::param(detail)
        };
        match self {
            Self::NotFound(_) | Self::MethodNotAllowed { .. } => {
                ErrorBody::new(error_code::NOT_FOUND, "请求的资源不存在")
            }
            Self::MissingQuery(name) => param(name, "is required".into()),
            Self::InvalidQuery(name) => param(name, "is invalid".into()),
            Self::BadId { field, source } => param(field, source.to_string()),
            Self::Encoding(field) => param(field, "invalid percent-encoding".into()),
        }
    }
}

impl Endpoint {
    /// The HTTP method.
    pub fn method(&self) -> Method {
        match self {
            Self::QueryByTransactionId { .. }
            | Self::QueryByOutTradeNo { .. }
            | Self::RefundQuery { .. } => Method::Get,
            Self::Certificates
            | Self::TradeBill(_)
            | Self::FundFlowBill(_)
            | Self::BillDownload { .. } => Method::Get,
            Self::Prepay(_) | Self::Close { .. } | Self::Refund => Method::Post,
        }
    }

    /// The path as WeChat's pages write it, parameters left as `{name}`: it names the
    /// endpoint without any of the request's values, so hosts can label metrics and logs
    /// with it (a bounded set, and no order or refund numbers).
    pub fn template(&self) -> &'static str {
        match self {
            Self::Prepay(kind) => prepay(*kind),
            Self::QueryByTransactionId { .. } => "/v3/pay/transactions/id/{transaction_id}",
            Self::QueryByOutTradeNo { .. } => "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            Self::Close { .. } => "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            Self::Refund => REFUNDS,
            Self::RefundQuery { .. } => "/v3/refund/domestic/refunds/{out_refund_no}",
            Self::Certificates => CERTIFICATES,
            Self::TradeBill(_) => TRADE_BILL,
            Self::FundFlowBill(_) => FUND_FLOW_BILL,
            Self::BillDownload { .. } => BILL_DOWNLOAD,
        }
    }

    /// Path plus query, exactly as signed and sent.
    pub fn canonical_url(&self) -> String {
        match self {
            Self::Prepay(kind) => prepay(*kind).to_owned(),
            Self::QueryByTransactionId {
                transaction_id,
                mchid,
            } => query_by_transaction_id(transaction_id, mchid),
            Self::QueryByOutTradeNo {
                out_trade_no,
                mchid,
            } => query_by_out_trade_no(out_trade_no, mchid),
            Self::Close { out_trade_no } => close(out_trade_no),
            Self::Refund => REFUNDS.to_owned(),
            Self::RefundQuery { out_refund_no } => refund_query(out_refund_no),
            Self::Certificates => CERTIFICATES.to_owned(),
            Self::TradeBill(req) => req.canonical_url(),
            Self::FundFlowBill(req) => req.canonical_url(),
            Self::BillDownload { token } => format!("{BILL_DOWNLOAD}?token={}", segment(token)),
        }
    }

    /// Recognises a request by method and path-plus-query (the simulator's router). Extra
    /// query parameters are ignored; ids are percent-decoded and checked.
    pub fn parse(method: &str, url: &str) -> Result<Self, PathError> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let (endpoint, expected) = Self::from_path(path, query)?;
        if !method.eq_ignore_ascii_case(expected.as_str()) {
            return Err(PathError::MethodNotAllowed {
                method: method.to_owned(),
                path: path.to_owned(),
            });
        }
        Ok(endpoint)
    }

    fn from_path(path: &str, query: &str) -> Result<(Self, Method), PathError> {
        let not_found = || PathError::NotFound(path.to_owned());
        if let Some(kind) = path
            .strip_prefix("/v3/pay/transactions/")
            .and_then(PrepayKind::parse)
        {
            return Ok((Self::Prepay(kind), Method::Post));
        }
        if let Some(id) = path.strip_prefix(TRANSACTIONS_BY_ID) {
            let transaction_id = decode(id, "transaction_id", TransactionId::new)?;
            let mchid = mchid_from(query)?;
            return Ok((
                Self::QueryByTransactionId {
                    transaction_id,
                    mchid,
                },
                Method::Get,
            ));
        }
        if let Some(rest) = path.strip_prefix(TRANSACTIONS_BY_OUT_TRADE_NO) {
            return match rest.split_once('/') {
                Some((no, "close")) => Ok((
                    Self::Close {
                        out_trade_no: decode(no, "out_trade_no", OutTradeNo::new)?,
                    },
                    Method::Post,
                )),
                Some(_) => Err(not_found()),
                None => {
                    let out_trade_no = decode(rest, "out_trade_no", OutTradeNo::new)?;
                    Ok((
                        Self::QueryByOutTradeNo {
                            out_trade_no,
                            mchid: mchid_from(query)?,
                        },
                        Method::Get,
                    ))
                }
            };
        }
        if path == REFUNDS {
            return Ok((Self::Refund, Method::Post));
        }
        if let Some(no) = path.strip_prefix(REFUNDS).and_then(|r| r.strip_prefix('/')) {
            return Ok((
                Self::RefundQuery {
                    out_refund_no: decode(no, "out_refund_no", OutRefundNo::new)?,
                },
                Method::Get,
            ));
        }
        if path == CERTIFICATES {
            return Ok((Self::Certificates, Method::Get));
        }
        let query_error = |e: BillQueryError| match e {
            BillQueryError::Missing(f) => PathError::MissingQuery(f),
            BillQueryError::Invalid(f) => PathError::InvalidQuery(f),
        };
        if path == TRADE_BILL {
            let req = TradeBillRequest::from_query(query).map_err(query_error)?;
            return Ok((Self::TradeBill(req), Method::Get));
        }
        if path == FUND_FLOW_BILL {
            let req = FundFlowBillRequest::from_query(query).map_err(query_error)?;
            return Ok((Self::FundFlowBill(req), Method::Get));
        }
        if path == BILL_DOWNLOAD {
            let token = query
                .split('&')
                .find_map(|p| p.strip_prefix("token="))
                .filter(|t| !t.is_empty())
                .ok_or(PathError::MissingQuery("token"))?;
            if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PathError::InvalidQuery("token"));
            }
            return Ok((
                Self::BillDownload {
                    token: token.to_owned(),
                },
                Method::Get,
            ));
        }
        Err(not_found())
    }
}

fn decode<T>(
    raw: &str,
    field: &'static str,
    ctor: fn(String) -> Result<T, IdError>,
) -> Result<T, PathError> {
    if raw.contains('/') {
        return Err(PathError::NotFound(raw.to_owned()));
    }
    let text = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError::Encoding(field))?;
    ctor(text.into_owned()).map_err(|source| PathError::BadId { field, source })
}

fn mchid_from(query: &str) -> Result<MchId, PathError> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("mchid="))
        .ok_or(PathError::MissingQuery("mchid"))?;
    decode(raw, "mchid", MchId::new)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn each_template_is_its_path_with_the_parameters_named() {
        let mchid = MchId::new("1230000109").expect("mchid");
        let order = OutTradeNo::new("WX2026ABC").expect("out_trade_no");
        let refund = OutRefundNo::new("RF2026ABC").expect("out_refund_no");
        let transaction = TransactionId::new("4200000000202501010000000001").expect("id");
        let cases = [
            (Endpoint::Prepay(PrepayKind::Jsapi), "WX2026ABC"),
            (
                Endpoint::QueryByOutTradeNo {
                    out_trade_no: order.clone(),
                    mchid: mchid.clone(),
                },
                "WX2026ABC",
            ),
            (
                Endpoint::QueryByTransactionId {
                    transaction_id: transaction,
                    mchid,
                },
                "4200000000202501010000000001",
            ),
            (
                Endpoint::Close {
                    out_trade_no: order,
                },
                "WX2026ABC",
            ),
            (Endpoint::Refund, ""),
            (
                Endpoint::RefundQuery {
                    out_refund_no: refund,
                },
                "RF2026ABC",
            ),
            (Endpoint::Certificates, ""),
        ];
        for (endpoint, value) in cases {
            let url = endpoint.canonical_url();
            let path = url.split('?').next().unwrap_or_default();
            let template = endpoint.template();
            let filled = template
                .split('/')
                .map(|part| if part.starts_with('{') { value } else { part })
                .collect::<Vec<_>>()
                .join("/");
            assert_eq!(filled, path, "{endpoint:?}");
            assert!(!template.contains(value) || value.is_empty(), "{template}");
        }
    }

    fn mchid() -> MchId {
        MchId::new("1900000109").unwrap()
    }

    #[test]
    fn builders() {
        let no = OutTradeNo::new("T20250101000001").unwrap();
        assert_eq!(
            query_by_out_trade_no(&no, &mchid()),
            "/v3/pay/transactions/out-trade-no/T20250101000001?mchid=1900000109"
        );
        let tx = TransactionId::new("4200002345202501018123456789").unwrap();
        assert_eq!(
            query_by_transaction_id(&tx, &mchid()),
            "/v3/pay/transactions/id/4200002345202501018123456789?mchid=1900000109"
        );
        assert_eq!(
            close(&no),
            "/v3/pay/transactions/out-trade-no/T20250101000001/close"
        );
        let r = OutRefundNo::new("R2025@a|b*c").unwrap();
        assert_eq!(
            refund_query(&r),
            "/v3/refund/domestic/refunds/R2025@a%7Cb%2Ac"
        );
        assert_eq!(prepay(PrepayKind::H5), "/v3/pay/transactions/h5");
    }

    #[test]
    fn parse_inverts_canonical_url() {
        let all = vec![
            Endpoint::Prepay(PrepayKind::Jsapi),
            Endpoint::Prepay(PrepayKind::Native),
            Endpoint::QueryByTransactionId {
                transaction_id: TransactionId::new("4200002345202501018123456789").unwrap(),
                mchid: mchid(),
            },
            Endpoint::QueryByOutTradeNo {
                out_trade_no: OutTradeNo::new("a|b*c-_9").unwrap(),
                mchid: mchid(),
            },
            Endpoint::Close {
                out_trade_no: OutTradeNo::new("a|b*c-_9").unwrap(),
            },
            Endpoint::Refund,
            Endpoint::RefundQuery {
                out_refund_no: OutRefundNo::new("r@1|2").unwrap(),
            },
            Endpoint::Certificates,
        ];
        for e in all {
            assert_eq!(
                Endpoint::parse(e.method().as_str(), &e.canonical_url()),
                Ok(e.clone()),
                "{e:?}"
            );
        }
    }

    #[test]
    fn path_errors_as_wechat_answers_them() {
        let missing = Endpoint::parse("GET", "/v3/pay/transactions/out-trade-no/T2025010100")
            .unwrap_err()
            .to_error_body();
        assert_eq!(
            (missing.code.as_str(), missing.http_status()),
            ("PARAM_ERROR", Some(400))
        );
        let detail = missing.param_detail().unwrap();
        assert_eq!(
            (detail.field.as_str(), detail.location.as_str()),
            ("mchid", "query")
        );
        let bad = Endpoint::parse("GET", "/v3/pay/transactions/out-trade-no/abc?mchid=1")
            .unwrap_err()
            .to_error_body()
            .param_detail()
            .unwrap();
        assert_eq!(
            (bad.field.as_str(), bad.location.as_str()),
            ("out_trade_no", "url")
        );
        let nowhere = Endpoint::parse("GET", "/v3/nothing")
            .unwrap_err()
            .to_error_body();
        assert_eq!(nowhere.http_status(), Some(404));
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Endpoint::parse("GET", "/v3/pay/transactions/jsapi"),
            Err(PathError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            Endpoint::parse("GET", "/v3/pay/transactions/out-trade-no/T20250101000001"),
            Err(PathError::MissingQuery("mchid"))
        ));
        assert!(matches!(
            Endpoint::parse("GET", "/v3/pay/transactions/out-trade-no/abc?mchid=1"),
            Err(PathError::BadId {
                field: "out_trade_no",
                ..
            })
        ));
        assert!(matches!(
            Endpoint::parse("POST", "/v3/pay/transactions/out-trade-no/T2025010100/x"),
            Err(PathError::NotFound(_))
        ));
        assert!(matches!(
            Endpoint::parse("GET", "/v3/nothing"),
            Err(PathError::NotFound(_))
        ));
        assert!(matches!(
            Endpoint::parse("GET", "/v3/refund/domestic/refunds/%FF"),
            Err(PathError::Encoding("out_refund_no"))
        ));
        assert_eq!(
            Endpoint::parse("GET", "/v3/pay/transactions/id/42?x=1&mchid=1900000109"),
            Ok(Endpoint::QueryByTransactionId {
                transaction_id: TransactionId::new("42").unwrap(),
                mchid: mchid()
            })
        );
    }
}
