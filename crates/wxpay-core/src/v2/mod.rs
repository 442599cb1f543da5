//! API v2 (legacy XML, MD5 / HMAC-SHA256), protocol.md section E.
//!
//! Still needed because many merchants run v2 for years: the sign algorithm (also used by
//! the v2 client `paySign`), a flat XML codec that refuses DTDs, the message fields, and the
//! refund notification's encrypted `req_info`.

mod fields;
pub mod models;
pub mod native_callback;
pub mod paths;
pub mod refund_crypto;
pub mod refund_models;
pub mod sign;
pub mod time;
pub mod xml;

pub use fields::{BusinessFailure, Params, ReturnFailure, V2ModelError};
pub use sign::{ApiV2Key, SignType, V2SignError};
pub use xml::XmlError;
