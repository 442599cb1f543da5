//! A bill file waiting for its download: what `/v3/bill/tradebill` and
//! `/v3/bill/fundflowbill` hand out and `/v3/billdownload/file` serves. It lives here, below
//! [`crate::sim`], because the shared state holds the files handed out.

/// A file handed out by a bill request, waiting for its download.
#[derive(Debug, Clone)]
pub struct BillFile {
    /// Only this merchant may download it.
    pub mchid: String,
    /// The bytes as served (gzip when asked).
    pub bytes: Vec<u8>,
    /// Unix seconds after which the URL no longer works.
    pub expires_at: i64,
}
