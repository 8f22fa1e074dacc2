//! The statistical enumeration test (issue 13, item 4), in a test binary of its own so that it
//! runs apart from the api tests: nothing else of ours competes for the CPU while it measures.
//!
//! At the login page, `/api/token/` and the password grant, an unknown user, a disabled user
//! (with its right password) and a wrong password must give byte-identical answers and take
//! indistinguishable time; at `/token`, a wrong client secret and an unknown client too.
//!
//! Method: many samples per case, the cases interleaved in a random order in every round (so
//! a burst of noise from the other processes of a shared machine hits all cases alike); the
//! comparison is of medians against the spreads (interquartile ranges) and of the low
//! percentiles, which a noisy machine moves least (see [`indistinguishable`]). A comparison that fails is measured again, up to three times, before the test
//! fails; the figures are printed (`--nocapture`). Throttling is kept out of the way by a
//! high `LOGIN_THROTTLE` and a fresh unknown username per sample.

#[allow(dead_code, unused_imports)]
#[path = "support/mod.rs"]
mod helpers;

use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use helpers::{Backend, TestApp};

/// One timing test at a time in this binary: two measuring at once would be each other's noise.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SAMPLES: usize = 30;
const CLIENT_SAMPLES: usize = 120;
const ATTEMPTS: usize = 3;

const WALT_PASSWORD: &str = "walt's right password";
const DORA_PASSWORD: &str = "dora's right password";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    LoginPage,
    SimpleJwt,
    PasswordGrant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    UnknownUser,
    DisabledUser,
    WrongPassword,
}

const CASES: [Case; 3] = [Case::UnknownUser, Case::DisabledUser, Case::WrongPassword];

/// What one attempt answered, with the typed username replaced (the login page shows it
/// back in its form) so that answers of different cases can be compared byte for byte.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Answer {
    status: u16,
    content_type: String,
    retry_after: bool,
    body: String,
}

struct Fixture {
    app: TestApp,
    browser: reqwest::Client,
    csrf: String,
    pg_secret: String,
    cc_secret: String,
}

async fn fixture(backend: Backend) -> Option<Fixture> {
    let app = helpers::spawn_app_with(backend, |a| {
        a.login_throttle = Some("1000000/1m,1000000/1m".into());
    })
    .await?;
    app.add_user("walt", WALT_PASSWORD, false).await;
    app.add_user("dora", DORA_PASSWORD, false).await;
    app.state
        .accounts
        .set_user_disabled("dora", true, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("disable dora");
    let pg_secret = app
        .add_client(&["pg", "--grant", "password"])
        .await
        .expect("confidential");
    let cc_secret = app
        .add_client(&["cc", "--grant", "client_credentials"])
        .await
        .expect("confidential");
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("page");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    let csrf = page[start..start + 43].to_string();
    Some(Fixture {
        app,
        browser,
        csrf,
        pg_secret,
        cc_secret,
    })
}

async fn answer_of(resp: reqwest::Response, username: &str) -> Answer {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (content_type, retry_after) = (header("content-type"), !header("retry-after").is_empty());
    let body = resp.text().await.expect("body").replace(username, "USER");
    Answer {
        status,
        content_type,
        retry_after,
        body,
    }
}

/// One sign-in attempt; `n` makes the unknown username fresh.
async fn attempt(f: &Fixture, surface: Surface, case: Case, n: usize) -> (Duration, Answer) {
    let unknown = format!("ghost{n:06}x");
    let (username, password) = match case {
        Case::UnknownUser => (unknown.as_str(), "some password or other"),
        Case::DisabledUser => ("dora", DORA_PASSWORD),
        Case::WrongPassword => ("walt", "walt's wrong password"),
    };
    let app = &f.app;
    let request = match surface {
        Surface::LoginPage => f.browser.post(app.url("/login")).form(&[
            ("csrf", f.csrf.as_str()),
            ("return_to", ""),
            ("username", username),
            ("password", password),
        ]),
        Surface::SimpleJwt => app
            .http
            .post(app.url("/api/token/"))
            .form(&[("username", username), ("password", password)]),
        Surface::PasswordGrant => app
            .http
            .post(app.url("/token"))
            .basic_auth("pg", Some(&f.pg_secret))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ]),
    };
    let started = Instant::now();
    let resp = request.send().await.expect("request");
    let answer = answer_of(resp, username).await;
    (started.elapsed(), answer)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The 20th percentile, the median and the interquartile range, in milliseconds.
fn summary(samples: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    (
        quantile(&ms, 0.2),
        quantile(&ms, 0.5),
        quantile(&ms, 0.75) - quantile(&ms, 0.25),
    )
}

/// Whether two cases are indistinguishable; the figures either way. Two tests, both must
/// hold: the medians are no further apart than twice the larger spread (IQR), a fifth of the
/// larger median and 2 ms; and the 20th percentiles, which the noise of a shared machine
/// (always added, never taken away) moves least, are no further apart than 30% of the larger
/// one and 3 ms. A skipped password hash moves the low percentile by the whole hash.
fn indistinguishable(a: &[Duration], b: &[Duration]) -> (bool, String) {
    let ((la, ma, sa), (lb, mb, sb)) = (summary(a), summary(b));
    let allowed = (2.0 * sa.max(sb)).max(0.2 * ma.max(mb)).max(2.0);
    let allowed_low = (0.3 * la.max(lb)).max(3.0);
    let ok = (ma - mb).abs() <= allowed && (la - lb).abs() <= allowed_low;
    (
        ok,
        format!(
            "medians {ma:.2} / {mb:.2} ms (IQRs {sa:.2} / {sb:.2}, |Δ| {:.2}, allowed {allowed:.2}); \
             p20 {la:.2} / {lb:.2} ms (|Δ| {:.2}, allowed {allowed_low:.2})",
            (ma - mb).abs(),
            (la - lb).abs()
        ),
    )
}

/// Samples every case of `cases` `samples` times, interleaved in a random order per round;
/// checks that every answer is byte-identical to the first.
async fn sample<C, F, Fut>(cases: &[C], samples: usize, mut run: F) -> Vec<Vec<Duration>>
where
    C: Copy + std::fmt::Debug,
    F: FnMut(C, usize) -> Fut,
    Fut: std::future::Future<Output = (Duration, Answer)>,
{
    let mut times = vec![Vec::with_capacity(samples); cases.len()];
    let mut first: Option<(C, Answer)> = None;
    let mut order: Vec<usize> = (0..cases.len()).collect();
    // A few rounds of warm-up: connections, caches, the hash pool's threads.
    for n in 0..3 {
        for &i in &order {
            run(cases[i], n).await;
        }
    }
    for n in 0..samples {
        order.shuffle(&mut rand::thread_rng());
        for &i in &order {
            let (took, answer) = run(cases[i], 1000 + n).await;
            match &first {
                None => first = Some((cases[i], answer)),
                Some((case, seen)) => assert_eq!(
                    &answer, seen,
                    "{:?} answers differently from {case:?}",
                    cases[i]
                ),
            }
            times[i].push(took);
        }
    }
    times
}

async fn sign_in_failures_are_indistinguishable(backend: Backend) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(f) = fixture(backend).await else {
        return;
    };
    for surface in [
        Surface::LoginPage,
        Surface::SimpleJwt,
        Surface::PasswordGrant,
    ] {
        let mut last = String::new();
        let mut passed = false;
        for attempt_no in 1..=ATTEMPTS {
            let times = sample(&CASES, SAMPLES, |case, n| attempt(&f, surface, case, n)).await;
            let mut report = format!("{backend:?} {surface:?}, attempt {attempt_no}:");
            let mut all = true;
            for (i, j) in [(0, 1), (0, 2), (1, 2)] {
                let (ok, figures) = indistinguishable(&times[i], &times[j]);
                all &= ok;
                report.push_str(&format!("\n  {:?} vs {:?}: {figures}", CASES[i], CASES[j]));
            }
            println!("{report}");
            last = report;
            if all {
                passed = true;
                break;
            }
        }
        assert!(passed, "timing tells the cases apart:\n{last}");
    }
}

async fn unknown_client_and_wrong_secret_are_indistinguishable(backend: Backend) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(f) = fixture(backend).await else {
        return;
    };
    #[derive(Clone, Copy, Debug)]
    enum ClientCase {
        WrongSecret,
        UnknownClient,
    }
    let cases = [ClientCase::WrongSecret, ClientCase::UnknownClient];
    // The right secret of another client: as long and as well-formed as a real one.
    let run = |case: ClientCase, _n: usize| {
        let (id, secret) = match case {
            ClientCase::WrongSecret => ("cc", f.pg_secret.clone()),
            ClientCase::UnknownClient => ("ghost", f.cc_secret.clone()),
        };
        let request = f
            .app
            .http
            .post(f.app.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]);
        async move {
            let started = Instant::now();
            let resp = request.send().await.expect("request");
            let answer = answer_of(resp, "\u{0}never in a body\u{0}").await;
            (started.elapsed(), answer)
        }
    };
    let mut last = String::new();
    let mut passed = false;
    for attempt_no in 1..=ATTEMPTS {
        let times = sample(&cases, CLIENT_SAMPLES, run).await;
        let (ok, figures) = indistinguishable(&times[0], &times[1]);
        last =
            format!("{backend:?} wrong secret vs unknown client, attempt {attempt_no}: {figures}");
        println!("{last}");
        if ok {
            passed = true;
            break;
        }
    }
    assert!(passed, "timing tells the cases apart: {last}");
}

/// "Forgot password?" (issue 27): a missing account, a disabled one, one without an address,
/// one with an unverified address and one with a verified address (the only one mailed) get
/// byte-identical answers in indistinguishable time. The SMTP server is a closed port: what
/// the background delivery does later is not the request's time.
async fn forgot_password_answers_are_indistinguishable(backend: Backend) {
    use gatehouse::accounts::email::Verified;
    let _alone = ONE_AT_A_TIME.lock().await;
    let port = helpers::free_port();
    let Some(app) = helpers::spawn_app_with(backend, |a| {
        a.smtp_url = Some(format!("smtp://127.0.0.1:{port}?tls=none"));
        a.smtp_from = Some("id@gatehouse.test".into());
        a.reset_throttle = Some("1000000/1m,1000000/1m".into());
    })
    .await
    else {
        return;
    };
    let accounts = &app.state.accounts;
    for (name, email, verified) in [
        ("walt", Some("walt@example.org"), Verified::Vouched),
        ("dora", Some("dora@example.org"), Verified::Vouched),
        ("nomad", None, Verified::ByMail),
        ("una", Some("una@example.org"), Verified::ByMail),
    ] {
        app.add_user(name, WALT_PASSWORD, false).await;
        if let Some(email) = email {
            accounts
                .set_email(name, Some(email.into()), verified)
                .await
                .expect("email");
        }
    }
    accounts
        .set_user_disabled("dora", true, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("disable dora");
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser
        .get(app.url("/forgot"))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("page");
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    let csrf = page[start..start + 43].to_string();
    let cases = ["ghost", "dora", "nomad", "una", "walt"];
    let run = |who: &'static str, n: usize| {
        let identifier = if who == "ghost" {
            format!("ghost{n:06}x")
        } else {
            who.to_string()
        };
        let request = browser
            .post(app.url("/forgot"))
            .form(&[("csrf", csrf.as_str()), ("identifier", identifier.as_str())]);
        async move {
            let started = Instant::now();
            let resp = request.send().await.expect("request");
            let answer = answer_of(resp, "\u{0}never in a body\u{0}").await;
            (started.elapsed(), answer)
        }
    };
    let mut last = String::new();
    let mut passed = false;
    for attempt_no in 1..=ATTEMPTS {
        let times = sample(&cases, SAMPLES, run).await;
        let mut report = format!("{backend:?} forgot password, attempt {attempt_no}:");
        let mut all = true;
        for i in 0..cases.len() {
            for j in i + 1..cases.len() {
                let (ok, figures) = indistinguishable(&times[i], &times[j]);
                all &= ok;
                report.push_str(&format!("\n  {} vs {}: {figures}", cases[i], cases[j]));
            }
        }
        println!("{report}");
        last = report;
        if all {
            passed = true;
            break;
        }
    }
    assert!(passed, "timing tells the cases apart:\n{last}");
}

mod forgot_password_answers_are_indistinguishable_in_time_and_bytes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::forgot_password_answers_are_indistinguishable(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::forgot_password_answers_are_indistinguishable(super::Backend::Postgres).await
    }
}

mod sign_in_failures_are_indistinguishable_in_time_and_bytes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sign_in_failures_are_indistinguishable(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::sign_in_failures_are_indistinguishable(super::Backend::Postgres).await
    }
}

mod an_unknown_client_and_a_wrong_client_secret_are_indistinguishable_in_time_and_bytes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::unknown_client_and_wrong_secret_are_indistinguishable(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::unknown_client_and_wrong_secret_are_indistinguishable(super::Backend::Postgres).await
    }
}
