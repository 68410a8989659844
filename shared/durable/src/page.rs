//! Paged listings, newest first: a page of items and the cursor of the next (older) page.
//!
//! A cursor is opaque to callers; here it is `<milliseconds>.<id>` of the last item listed, and
//! the next page holds what sorts strictly after it by `(time DESC, id DESC)`, so pages neither
//! skip nor repeat items while new ones arrive.

use serde::Serialize;

/// Items per page when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most items one page holds.
pub const MAX_LIMIT: u32 = 1000;

/// One page of a listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page to read: how many items, and after which cursor.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The limit, within 1..=[`MAX_LIMIT`].
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))
    }

    /// `(time, id)` that the page starts strictly after; the start of the listing when there is
    /// no cursor (or one that does not parse).
    pub fn after(&self) -> (i64, String) {
        self.cursor
            .as_deref()
            .and_then(|cursor| {
                let (at, id) = cursor.split_once('.')?;
                Some((at.parse().ok()?, id.to_owned()))
            })
            .unwrap_or((i64::MAX, String::new()))
    }
}

impl<T> Page<T> {
    /// A page from the rows read with [`PageRequest::limit`]` + 1` (the extra row tells whether
    /// another page follows); `key` gives an item's `(time, id)`.
    pub fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> (i64, String),
    ) -> Self {
        let limit = usize::try_from(request.limit()).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| {
                rows.last().map(|last| {
                    let (at, id) = key(last);
                    format!("{at}.{id}")
                })
            })
            .flatten();
        Self {
            items: rows,
            next_cursor,
        }
    }
}
