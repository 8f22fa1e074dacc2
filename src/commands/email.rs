//! `gatehouse user email NAME [ADDRESS] [--remove] [--verified] [--resend]`: a user's
//! address and its verification ([`crate::accounts::email`]).

use crate::accounts::email::Verified;
use crate::accounts::Accounts;

#[derive(clap::Args, Debug)]
pub struct EmailArgs {
    /// The username.
    name: String,
    /// The new address (omit with --remove or --resend).
    #[arg(conflicts_with_all = ["remove", "resend"], required_unless_present_any = ["remove", "resend"])]
    address: Option<String>,
    /// Remove the user's address (they then get no reset links by mail).
    #[arg(long)]
    remove: bool,
    /// Vouch for the address: stored verified and no mail sent (e.g. imported Django users
    /// whose addresses your application had confirmed).
    #[arg(long, conflicts_with_all = ["remove", "resend"])]
    verified: bool,
    /// Mail a new verification link to the user's current, unverified address.
    #[arg(long, conflicts_with = "remove")]
    resend: bool,
}

pub async fn run(accounts: &Accounts, args: EmailArgs) -> anyhow::Result<()> {
    let name = args.name;
    if args.resend {
        accounts.resend_verification(&name, None).await?;
        println!("a new verification link for {name} is queued");
        return Ok(());
    }
    let verified = if args.verified {
        Verified::Vouched
    } else {
        Verified::ByMail
    };
    let user = accounts.set_email(&name, args.address, verified).await?;
    match (&user.email, user.email_verified) {
        (None, _) => println!("removed the address of {name}"),
        (Some(e), true) => println!("address of {name} set to {e}, verified"),
        (Some(e), false) if accounts.mail => {
            println!("address of {name} set to {e}; a verification link is queued")
        }
        (Some(e), false) => println!(
            "address of {name} set to {e}, unverified: no mail is configured (SMTP_URL), so it gets no reset links until verified (--verified)"
        ),
    }
    Ok(())
}
