//! A PostgreSQL database of a test's own, created from `DATABASE_URL`'s server, or a
//! PostgreSQL cluster of a test's own ([`Cluster`]).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// A PostgreSQL database for one test run, dropped when this is.
pub struct Database {
    admin_url: String,
    name: String,
    /// The URL of the test's database.
    pub url: String,
}

impl Database {
    /// Creates a database of its own on `admin_url`'s server.
    pub async fn create(admin_url: &str) -> Self {
        let name = super::unique("billing");
        let mut connection = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|error| panic!("DATABASE_URL is set but cannot be reached: {error}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .expect("the test user may create databases");
        let _ = connection.close().await;
        Self {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await: a thread with a runtime of its own does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(mut connection) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                    let _ = connection.close().await;
                }
            });
        })
        .join();
    }
}

/// `url` with its database (the path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A PostgreSQL cluster of a test's own: `initdb` in a temporary directory, serving on
/// a free port of 127.0.0.1 (and a socket in that directory) only, never the shared
/// server of `DATABASE_URL`. Stopped (`pg_ctl stop -m immediate`, else `kill -KILL`)
/// and deleted when dropped, a panicking test included.
///
/// `initdb` and `pg_ctl` refuse to run as root: as root they run as user `postgres`
/// (through `runuser`), otherwise as the current user.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    as_postgres: bool,
    /// The port it listens on, of 127.0.0.1.
    pub port: u16,
    // Last: deleted once the server is stopped.
    temp: tempfile::TempDir,
}

impl Cluster {
    /// The newest PostgreSQL's binaries: `PG_BIN` if set, else the newest
    /// `/usr/lib/postgresql/<version>/bin` with a `pg_ctl` (Debian's layout).
    pub fn bin_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("PG_BIN").filter(|dir| !dir.is_empty()) {
            return Some(dir.into());
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("pg_ctl").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    }

    /// Creates a cluster on a free port and starts it; panics saying what is missing
    /// when the binaries are not installed.
    pub fn start() -> Self {
        let bin = Self::bin_dir().unwrap_or_else(|| {
            panic!(
                "this test needs the PostgreSQL server binaries (apt-get install postgresql; \
                 or set PG_BIN to the directory of initdb and pg_ctl)"
            )
        });
        let as_postgres = is_root();
        let temp = tempfile::Builder::new()
            .prefix("portcullis-pg-")
            .tempdir()
            .expect("a temporary directory");
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(temp.path()));
        }
        let data = temp.path().join("data");
        let log = temp.path().join("postgres.log");
        let port = free_port();
        let cluster = Self {
            bin,
            data,
            log,
            as_postgres,
            port,
            temp,
        };
        let data = cluster.data.display().to_string();
        run(cluster
            .command("initdb")
            .args(["-D", &data, "-A", "trust", "-U", "postgres"])
            .args(["-E", "UTF8", "--locale=C", "--no-sync"]));
        // `fsync = off` loses nothing when only the server crashes (the kernel keeps
        // what it wrote); `synchronous_commit = off` would lose the last commits.
        let settings = format!(
            "\n# portcullis test cluster\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{}'\nfsync = off\n\
             shared_buffers = 16MB\nmax_connections = 50\n",
            cluster.temp.path().display()
        );
        let conf = cluster.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("initdb wrote postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("postgresql.conf is writable");
        cluster.pg_ctl(&["start"]);
        cluster
    }

    /// The URL of database `postgres` on this cluster, over TCP.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl stop -m <mode>` (`immediate`: the postmaster and every backend quit at
    /// once, as in a crash; `fast`: sessions are terminated first).
    pub fn stop(&self, mode: &str) {
        self.pg_ctl(&["stop", "-m", mode]);
    }

    /// `pg_ctl start`: returns once it accepts connections.
    pub fn restart_stopped(&self) {
        self.pg_ctl(&["start"]);
    }

    /// `pg_ctl restart -m <mode>`: stops and starts again, returns once it accepts
    /// connections.
    pub fn restart(&self, mode: &str) {
        self.pg_ctl(&["restart", "-m", mode]);
    }

    /// Its server log so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `pg_ctl <args>` on this cluster, waiting up to 60 s, and panics with its
    /// output and the server log when it fails.
    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data.display().to_string();
        let log = self.log.display().to_string();
        let output = self
            .command("pg_ctl")
            .args(args)
            .args(["-D", &data, "-l", &log, "-w", "-t", "60"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl {args:?}: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.server_log()
        );
    }

    /// A command running PostgreSQL's `program`, as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let stopped = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D", &data, "-w", "-t", "20"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        // Not stopped (or never started): kill the postmaster by its pid file.
        if !stopped {
            let pid = std::fs::read_to_string(self.data.join("postmaster.pid"))
                .ok()
                .and_then(|text| text.lines().next().map(str::to_owned));
            if let Some(pid) = pid.filter(|pid| pid.parse::<u32>().is_ok()) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

/// Whether this process runs as root (`id -u`: no `unsafe` for `geteuid`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// A port of 127.0.0.1 that was free a moment ago (never 5432, the shared server's).
fn free_port() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a local address").port();
        if port != 5432 {
            return port;
        }
    }
}

/// Runs `command` and panics with its output unless it succeeds.
fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
