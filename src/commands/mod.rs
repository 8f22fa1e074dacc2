//! The operator commands, each with its arguments and its body: `user`, `client` and
//! `clients apply`, `keys`, `backup` and `restore`, `check`, `user import`, `user email`,
//! `master-key rotate`, and what terminals get (progress). `cli.rs` parses and dispatches.

pub mod backup;
pub mod check;
pub mod client;
pub mod email;
pub mod factors;
pub mod import;
pub mod keys;
pub mod master_key;
pub mod progress;
pub mod sessions;
pub mod user;

use crate::paging::ListRequest;

/// One page of a listing; where a next page starts is printed on stderr.
#[derive(clap::Args, Debug)]
pub struct PageArgs {
    /// Only those whose name (a user's also their email) starts with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Start after this name: the cursor a previous page named.
    #[arg(long)]
    after: Option<String>,
    /// How many (1 to 500).
    #[arg(long, default_value_t = crate::paging::DEFAULT_LIMIT)]
    limit: i64,
}

impl PageArgs {
    pub fn request(self) -> ListRequest {
        ListRequest {
            after: self.after,
            prefix: self.prefix,
            limit: Some(self.limit),
        }
    }
}

/// Tells where the next page starts, on stderr, so stdout holds only the rows.
pub fn more_after(next: Option<String>) {
    if let Some(next) = next {
        eprintln!("more: --after {next}");
    }
}
