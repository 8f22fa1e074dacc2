//! A password reset link followed in a real headless Chromium: the form, a common password
//! refused with the reason, a good one accepted, then signing in with it. Over HTTP without a
//! browser: tests/api/recovery.rs.

use crate::helpers::{spawn_app, Backend};

const NEW_PASSWORD: &str = "a new passphrase typed in chromium";

/// Screenshots in target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_a_new_password_through_a_reset_link_in_chromium() {
    use crate::browser::{start_browser, start_driver, CHROMEDRIVER, CHROMIUM};
    use std::path::Path;
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        crate::helpers::skip("Chromium and chromedriver");
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
    let driver = start_driver(&app.storage.dir.path().join("chromedriver.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = reset_in_chromium(&browser, &link.url(&app.address)).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.unwrap_or_else(|e| panic!("{e}"));
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
async fn submit(browser: &fantoccini::Client, password: &str) -> Result<(), String> {
    use crate::browser::WAIT;
    use fantoccini::Locator;
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    for field in ["password", "confirm"] {
        let input = browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id(field))
            .await
            .map_err(|e| format!("no {field} field: {e}"))?;
        input.clear().await.map_err(fail)?;
        input.send_keys(password).await.map_err(fail)?;
    }
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .map_err(fail)?
        .click()
        .await
        .map_err(fail)
}

async fn reset_in_chromium(browser: &fantoccini::Client, url: &str) -> Result<(), String> {
    use crate::browser::{screenshot, WAIT};
    use fantoccini::Locator;
    let fail = |e: fantoccini::error::CmdError| e.to_string();
    browser.goto(url).await.map_err(fail)?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("password"))
        .await
        .map_err(|e| format!("no reset form: {e}"))?;
    screenshot(browser, "reset.png").await;

    // Long enough for the browser's own check, but on the common list.
    submit(browser, "1q2w3e4r5t6y").await?;
    let refusal = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(".error"))
        .await
        .map_err(|e| format!("no refusal: {e}"))?
        .text()
        .await
        .map_err(fail)?;
    if !refusal.contains("most common") {
        return Err(format!("the refusal says: {refusal}"));
    }
    screenshot(browser, "reset-refused.png").await;

    submit(browser, NEW_PASSWORD).await?;
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//h1[text()='Your password is set']"))
        .await
        .map_err(|e| format!("no confirmation of the reset: {e}"))?;
    screenshot(browser, "reset-done.png").await;
    // The address bar still holds the token; the link is spent.
    browser.goto(url).await.map_err(fail)?;
    let title = browser
        .find(Locator::Css("h1"))
        .await
        .map_err(fail)?
        .text()
        .await
        .map_err(fail)?;
    if title != "This link has been used" {
        return Err(format!("the link opened again says: {title}"));
    }
    Ok(())
}
