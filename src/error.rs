//! The failure that is never the caller's fault, shared by every use case: the database is
//! unreachable (a 503 to the client) or something else broke (a 500). It keeps its source,
//! so the one log line an HTTP surface writes for it shows the whole cause chain. A leaf: each
//! error that may become one says how, beside itself (`impl From<X> for Internal`).

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Internal {
    /// The database (or another dependency) cannot be reached now; retrying later helps.
    #[error("service unavailable")]
    Unavailable(#[source] Source),
    #[error("internal error")]
    Broken(#[source] Source),
}

impl Internal {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Internal::Unavailable(_))
    }

    /// The error and its sources, `: `-separated, for the log line.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}
