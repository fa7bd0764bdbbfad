//! Response compression, negotiated by `Accept-Encoding` (gzip and deflate, which Excel
//! and Power BI ask for, brotli and zstd): a page of 1,000 contacts goes out at a fifth
//! (gzip) to a seventh (brotli, zstd) of its size. actix-web's `Compress` does the work; this module only keeps an
//! `Accept-Encoding` that allows none of those codings (not even identity) from turning
//! into actix's plain-text 406: such a client gets the response uncompressed, as RFC 9110
//! §12.5.3 allows, with the OData answer it asked for.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AcceptEncoding, Encoding, Header, ACCEPT_ENCODING};
use actix_web::middleware::Next;

/// The codings `Compress` produces, identity among them.
const PRODUCED: [Encoding; 5] = [
    Encoding::identity(),
    Encoding::brotli(),
    Encoding::gzip(),
    Encoding::deflate(),
    Encoding::zstd(),
];

/// Drops an `Accept-Encoding` that no coding here satisfies, before `Compress` reads it.
pub async fn identity_when_nothing_else(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.headers().contains_key(ACCEPT_ENCODING) {
        let usable = AcceptEncoding::parse(&req)
            .ok()
            .and_then(|a| a.negotiate(PRODUCED.iter()));
        if usable.is_none() {
            req.headers_mut().remove(ACCEPT_ENCODING);
        }
    }
    next.call(req).await
}
