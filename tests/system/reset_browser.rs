//! A password reset link followed in a real headless Chromium: the form, a common password
//! refused with the reason, a good one accepted, then signing in with it. Over HTTP without a
//! browser: tests/api/recovery.rs.

use fantoccini::{Client, Locator};

use crate::helpers::chromium::{self, click, screenshot, text_of, wait_for};
use crate::helpers::{spawn_app, Backend};

const NEW_PASSWORD: &str = "a new passphrase typed in chromium";

/// Screenshots in target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_a_new_password_through_a_reset_link_in_chromium() {
    if !chromium::available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.add_user("alice", "alice's old password", false).await;
    let link = app
        .state
        .accounts
        .issue_reset_link("alice", None)
        .await
        .expect("reset link");
    let log = app.storage.dir.path().join("chromedriver.log");
    let url = link.url(&app.address);
    chromium::in_chromium(&log, async |browser| reset_in_chromium(browser, &url).await).await;
    assert_eq!(
        app.simplejwt_login("alice", NEW_PASSWORD).await.status(),
        200
    );
    assert_eq!(
        app.simplejwt_login("alice", "alice's old password")
            .await
            .status(),
        401
    );
}

/// Types `password` twice and submits the form.
async fn submit(browser: &Client, password: &str) -> Result<(), String> {
    for field in ["password", "confirm"] {
        let input = wait_for(browser, Locator::Id(field), &format!("{field} field")).await?;
        input.clear().await.map_err(|e| e.to_string())?;
        input.send_keys(password).await.map_err(|e| e.to_string())?;
    }
    click(browser, Locator::Css("button[type=submit]")).await
}

async fn reset_in_chromium(browser: &Client, url: &str) -> Result<(), String> {
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    browser.goto(url).await.map_err(fail)?;
    wait_for(browser, Locator::Id("password"), "reset form").await?;
    screenshot(browser, "reset.png").await;

    // Long enough for the browser's own check, but on the common list.
    submit(browser, "1q2w3e4r5t6y").await?;
    let refusal = text_of(browser, Locator::Css(".error"), "refusal").await?;
    if !refusal.contains("most common") {
        return Err(format!("the refusal says: {refusal}"));
    }
    screenshot(browser, "reset-refused.png").await;

    submit(browser, NEW_PASSWORD).await?;
    let done = Locator::XPath("//h1[text()='Your password is set']");
    wait_for(browser, done, "confirmation of the reset").await?;
    screenshot(browser, "reset-done.png").await;
    // The address bar still holds the token; the link is spent.
    browser.goto(url).await.map_err(fail)?;
    let title = text_of(browser, Locator::Css("h1"), "title").await?;
    if title != "This link has been used" {
        return Err(format!("the link opened again says: {title}"));
    }
    Ok(())
}
