use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = gatehouse::cli::Cli::parse();
    let format = match cli.settings.log_format.as_deref() {
        Some("json") => gatehouse::config::LogFormat::Json,
        _ => gatehouse::config::LogFormat::Text,
    };
    gatehouse::telemetry::init(format, &gatehouse::cli::log_filter(&cli));
    if let Err(e) = gatehouse::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
