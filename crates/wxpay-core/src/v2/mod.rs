//! API v2 (legacy XML, MD5 / HMAC-SHA256).
