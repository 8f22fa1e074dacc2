//! The request being served (id, client address, method, path): a task-local set by the
//! request middleware around the request's future, and a thread-local that work done for the
//! request on another thread enters (`db::Db::run`'s blocking closures). `telemetry` writes
//! it into every line logged meanwhile, as a `request` span would read. A leaf: it imports
//! nothing of the crate, so every layer may carry it.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

/// The request being served: what every line logged for it names.
#[derive(Debug)]
pub struct RequestScope {
    pub id: String,
    pub client: String,
    pub method: String,
    pub path: String,
}

tokio::task_local! {
    static IN_TASK: Arc<RequestScope>;
}

thread_local! {
    /// Set by [`enter`] on a thread that works for a request outside its task.
    static ON_THREAD: RefCell<Option<Arc<RequestScope>>> = const { RefCell::new(None) };
}

/// Runs `f` (the request's handling) inside `scope`.
pub async fn within<F: Future>(scope: Arc<RequestScope>, f: F) -> F::Output {
    IN_TASK.scope(scope, f).await
}

/// The request being served here, if any: to hand to work done for it on another thread.
pub fn current_request() -> Option<Arc<RequestScope>> {
    with_current(|scope| scope.cloned())
}

/// Puts this thread inside `scope` until the guard drops (a blocking closure, a line
/// logged outside the request's future).
pub fn enter(scope: Option<Arc<RequestScope>>) -> Entered {
    Entered {
        previous: ON_THREAD.with(|t| t.replace(scope)),
    }
}

/// Leaves the scope [`enter`] put the thread in.
pub struct Entered {
    previous: Option<Arc<RequestScope>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        ON_THREAD.with(|t| *t.borrow_mut() = self.previous.take());
    }
}

pub(crate) fn with_current<T>(f: impl FnOnce(Option<&Arc<RequestScope>>) -> T) -> T {
    let scope = ON_THREAD
        .with(|t| t.borrow().clone())
        .or_else(|| IN_TASK.try_with(Arc::clone).ok());
    f(scope.as_ref())
}
