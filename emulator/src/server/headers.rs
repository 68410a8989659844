//! The security headers every answer carries: the app's (added by the middleware where an answer
//! sets none of its own) and the front door's refusals alike.

/// Headers every answer carries, the front's own too (see `middleware::security_headers`).
pub(crate) const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];
