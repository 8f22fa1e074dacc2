//! Keyset pagination of the admin lists (users, clients, the audit trail), the same in the
//! admin API, the console and the CLI: a page is at most `limit` rows after the cursor
//! `after`, in a fixed order, and `next` is the cursor of the following page, absent on the
//! last. One row more than asked is read to know whether there is a following page, so no
//! page is ever read just to find it empty. The lists of users and clients also take a
//! `prefix`: only the rows whose name (or a user's email) starts with it.

pub use crate::db::repo::keyset::PageQuery;

/// Rows per page when the request names no limit.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most rows one page may ask for.
pub const MAX_LIMIT: i64 = 500;
/// Longer cursors and prefixes are no name Gatehouse stores.
const MAX_TEXT: usize = 300;

/// The rows per page asked for, checked: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(asked: Option<i64>) -> Result<i64, String> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(format!("limit must be 1 to {MAX_LIMIT}"));
    }
    Ok(limit)
}

/// A page as asked: each part optional (`?after=…&prefix=…&limit=…`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Only names (and, for users, emails) starting with this; empty means all.
    pub prefix: Option<String>,
    /// 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<i64>,
}

impl ListRequest {
    /// The query, or what is wrong with the request (a message for a 400).
    pub fn check(self) -> Result<PageQuery, String> {
        let limit = limit(self.limit)?;
        // PostgreSQL refuses a NUL in text (an error, not an empty page): refused here.
        let text = |name: &str, value: Option<String>| match value {
            Some(v) if v.len() > MAX_TEXT || v.contains('\0') => Err(format!(
                "{name} must be at most {MAX_TEXT} bytes, without NUL"
            )),
            v => Ok(v.filter(|v| !v.is_empty())),
        };
        Ok(PageQuery {
            after: text("after", self.after)?,
            prefix: text("prefix", self.prefix)?,
            limit,
        })
    }
}

/// One page and the cursor of the next.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The page from rows read with [`PageQuery::rows_to_read`]; `cursor` is a row's key.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_checked_and_defaulted() {
        let checked = ListRequest::default().check().unwrap();
        assert_eq!(checked.limit, DEFAULT_LIMIT);
        assert_eq!((checked.after, checked.prefix), (None, None));
        let empty = ListRequest {
            after: Some(String::new()),
            prefix: Some(String::new()),
            limit: Some(MAX_LIMIT),
        };
        assert_eq!(empty.check().unwrap().prefix, None);
        for limit in [0, -1, MAX_LIMIT + 1] {
            let request = ListRequest {
                limit: Some(limit),
                ..Default::default()
            };
            assert!(request.check().is_err(), "{limit}");
        }
        for bad in ["a\0b".to_string(), "x".repeat(MAX_TEXT + 1)] {
            let request = ListRequest {
                prefix: Some(bad.clone()),
                ..Default::default()
            };
            assert!(request.check().is_err());
            let request = ListRequest {
                after: Some(bad),
                ..Default::default()
            };
            assert!(request.check().is_err());
        }
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_a_row_follows() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next), (vec![1, 2], Some("2".into())));
        let page = Page::from_rows(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((page.items, page.next), (vec![1, 2], None));
        let page = Page::from_rows(Vec::<i32>::new(), 2, |n| n.to_string());
        assert_eq!((page.items.len(), page.next), (0, None));
    }
}
