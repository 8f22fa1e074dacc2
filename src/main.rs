/// Blocking threads of the main runtime, which runs start-up, the CLI commands and the
/// background tasks (key upkeep, purges): a handful of database calls at a time. Requests
/// run on the HTTP workers' own runtimes (see `startup::blocking_threads`). tokio's default
/// of 512 would let a burst leave hundreds of idle threads, each with its malloc arena.
const MAIN_BLOCKING_THREADS: usize = 16;

fn main() {
    let cli = gatehouse::cli::parse();
    let format = match cli.settings.log_format.as_deref() {
        Some("json") => gatehouse::config::LogFormat::Json,
        _ => gatehouse::config::LogFormat::Text,
    };
    let log = gatehouse::telemetry::init(format, &gatehouse::cli::log_filter(&cli));
    gatehouse::memory::configure();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAIN_BLOCKING_THREADS)
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(gatehouse::cli::run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    // The queued log lines go out first (exit skips destructors), then the error after them.
    drop(log);
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
