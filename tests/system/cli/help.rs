//! `--help` describes every command and option and lists the settings once.

/// `gatehouse ARGS -h`.
fn help(args: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .arg("-h")
        .output()
        .expect("run gatehouse");
    assert!(out.status.success(), "{args:?} -h failed");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The entries of a help section (`Commands:`, `Arguments:`, `Options:`), each with its
/// description: on its line, or on the next, further indented, when clap puts it there.
fn entries(text: &str, section: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let lines = text
        .lines()
        .skip_while(|l| *l != section)
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        match out.last_mut() {
            Some((_, description)) if indent >= 10 && description.is_empty() => {
                *description = line.trim().to_string();
            }
            _ => {
                let (name, description) = line.trim().split_once("  ").unwrap_or((line.trim(), ""));
                out.push((name.to_string(), description.trim().to_string()));
            }
        }
    }
    out
}

/// Every subcommand and option has a description; the settings and `-v`, which every
/// command accepts, are listed once, in `gatehouse -h`, not again under each subcommand.
#[test]
fn help_describes_every_command_and_option_and_lists_the_settings_once() {
    let top = help(&[]);
    assert_eq!(top.matches("--database-url <").count(), 1, "{top}");
    let globals = [
        "--config",
        "--database-url",
        "--master-key",
        "--bind",
        "--issuer",
        "--verbose",
    ];
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(args) = pending.pop() {
        let text = help(&args);
        for (name, description) in entries(&text, "Commands:") {
            assert!(!description.is_empty(), "{args:?} {name}: no description");
            if name != "help" {
                let mut sub = args.clone();
                sub.push(name);
                pending.push(sub);
            }
        }
        if args.is_empty() {
            continue;
        }
        seen += 1;
        for section in ["Arguments:", "Options:"] {
            for (name, description) in entries(&text, section) {
                assert!(!description.is_empty(), "{args:?} {name}: no description");
            }
        }
        for (name, _) in entries(&text, "Options:") {
            assert!(
                !globals.iter().any(|g| name.contains(g)),
                "{args:?} lists {name}:\n{text}"
            );
        }
        assert!(text.contains("see gatehouse --help"), "{text}");
    }
    // serve … completions, and user add … client rotate-secret, keys list/rotate, ….
    assert!(seen >= 25, "only {seen} commands");
}
