//! Lists are paged and searched by prefix.

use super::*;

both_backends!(cli_lists_are_paged_and_searched_by_prefix,);

async fn cli_lists_are_paged_and_searched_by_prefix(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for name in ["alice", "alina", "bob"] {
        app.add_user(name, "a long enough password", false).await;
    }
    let out = app.cli(&["user", "list", "--limit", "2"], "").await;
    ok(&out, "user list --limit 2");
    assert_eq!(names(&out), ["alice", "alina"]);
    // Where the next page starts goes to stderr, so stdout holds only rows.
    assert_eq!(out.stderr.trim(), "more: --after alina");
    let out = app
        .cli(&["user", "list", "--limit", "2", "--after", "alina"], "")
        .await;
    ok(&out, "user list --after");
    assert_eq!(names(&out), ["bob"]);
    assert_eq!(out.stderr.trim(), "", "the last page");
    let out = app.cli(&["user", "list", "--prefix", "ali"], "").await;
    ok(&out, "user list --prefix");
    assert_eq!(names(&out), ["alice", "alina"]);

    app.add_client(&["svc", "--grant", "client_credentials"])
        .await;
    let out = app.cli(&["client", "list", "--limit", "1"], "").await;
    ok(&out, "client list --limit 1");
    assert_eq!(names(&out), ["simplejwt"]);
    assert_eq!(out.stderr.trim(), "more: --after simplejwt");
    let out = app.cli(&["client", "list", "--prefix", "sv"], "").await;
    assert_eq!(names(&out), ["svc"]);

    let out = app.cli(&["user", "list", "--limit", "0"], "").await;
    plain_failure(&out, "user list --limit 0", "limit must be 1 to 500");
    let out = app.cli(&["audit", "--limit", "1"], "").await;
    ok(&out, "audit --limit 1");
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let after = out
        .stderr
        .trim()
        .strip_prefix("more: --after ")
        .expect(&out.stderr);
    let out = app
        .cli(&["audit", "--limit", "1", "--after", after], "")
        .await;
    ok(&out, "audit --after");
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
}
