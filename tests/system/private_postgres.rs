//! A throwaway PostgreSQL server of the test's own (initdb + pg_ctl), which a test may stop,
//! kill and start without touching the shared server; and a streaming standby of it made
//! with pg_basebackup, which a test may promote.

use std::path::PathBuf;

use crate::helpers::skip;

/// A throwaway PostgreSQL server of our own (initdb + pg_ctl), so a test can stop and
/// restart it without touching the shared server other tests use. It listens on a Unix
/// socket in its own directory only: no TCP port to pick, so none to lose to a race.
pub struct PrivatePostgres {
    bin: PathBuf,
    pub dir: tempfile::TempDir,
    /// Server settings beyond the test defaults, as `-c name=value` options.
    settings: String,
}

impl PrivatePostgres {
    fn bin_dir() -> Option<PathBuf> {
        let out = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()?;
        let from_pg_config = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let mut candidates = vec![from_pg_config];
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            versions.sort();
            candidates.extend(versions.into_iter().rev().map(|v| v.join("bin")));
        }
        candidates
            .into_iter()
            .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    }

    /// Runs a PostgreSQL tool; as root it runs as the `postgres` user, which PostgreSQL
    /// insists on.
    fn tool(&self, name: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(name);
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        cmd.args(args).output().expect("run a PostgreSQL tool")
    }

    pub fn start_new(settings: &[&str]) -> Option<PrivatePostgres> {
        let Some(bin) = PrivatePostgres::bin_dir() else {
            skip("PostgreSQL server binaries (initdb, pg_ctl)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let settings = settings.iter().map(|s| format!(" -c {s}")).collect();
        let pg = PrivatePostgres { bin, dir, settings };
        let data = pg.data();
        let out = pg.tool(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start();
        Some(pg)
    }

    pub fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn start(&self) {
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off{}",
            self.dir.path().display(),
            self.settings
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let out = self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop(&self) {
        let out = self.tool("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@/postgres?host={}",
            self.dir.path().display()
        )
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.tool(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PrivatePostgres {
    /// A hot standby of `primary`: a base backup over its socket (`-R` writes the
    /// connection to follow), started on a socket directory of its own.
    pub fn standby_of(primary: &PrivatePostgres) -> PrivatePostgres {
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let standby = PrivatePostgres {
            bin: primary.bin.clone(),
            dir,
            settings: String::new(),
        };
        let source = format!(
            "host={} user=postgres application_name=standby",
            primary.dir.path().display()
        );
        let out = standby.tool(
            "pg_basebackup",
            &[
                "-D",
                &standby.data(),
                "-d",
                &source,
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        standby.start();
        standby
    }

    /// Stops at once, as a crash would (no checkpoint, connections cut).
    pub fn stop_immediately(&self) {
        let out = self.tool(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes a standby the primary (it accepts writes once this returns).
    pub fn promote(&self) {
        let out = self.tool("pg_ctl", &["-D", &self.data(), "-w", "promote"]);
        assert!(
            out.status.success(),
            "pg_ctl promote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The socket directory, for a multi-host URL.
    pub fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }
}
