//! A private PostgreSQL cluster for when no database URL is configured.
//!
//! `cargo run` on a machine with PostgreSQL installed but not running must just work, and so must
//! `cargo test`. We find `initdb` and `postgres` (on `PATH` or under `/usr/lib/postgresql/*/bin`),
//! create a cluster in a data folder of our own on first use, start it on a free loopback port,
//! and stop it when we stop. Running as root (containers, CI), the server runs as the `postgres`
//! system user, since PostgreSQL refuses to run as root.
//!
//! The server is started from a dedicated thread that waits on it for its whole life, with the
//! Linux parent-death signal set: if our process dies without cleaning up, the kernel tells the
//! postmaster to shut down, so no orphan is left behind.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use rand::RngCore;

/// The superuser the private cluster is created with.
const SUPERUSER: &str = "junction";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "No PostgreSQL server programs (initdb, postgres) were found: set DATABASE_URL to your database, or run `docker compose up`."
    )]
    NoBinaries,
    #[error(
        "Running as root, the private database must run as the `postgres` system user, and there is none: set DATABASE_URL, or create that user."
    )]
    NoPostgresUser,
    #[error("Could not prepare the private database in {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "The private database folder {dir} is inside {blocked}, which the `postgres` user cannot enter: set JUNCTION_DATA_DIR to a folder it can reach (e.g. under /var/lib or /tmp), or set DATABASE_URL."
    )]
    Unreachable { dir: PathBuf, blocked: PathBuf },
    #[error("initdb failed for {dir}: {output}")]
    Initdb { dir: PathBuf, output: String },
    #[error(
        "The private PostgreSQL did not start within {secs} s; its log ({log}) ends with:\n{tail}"
    )]
    StartTimeout {
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("The private PostgreSQL exited while starting; its log ({log}) ends with:\n{tail}")]
    Exited { log: PathBuf, tail: String },
}

/// How the cluster is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Normal settings: the data folder keeps the administrator's connections.
    Durable,
    /// For throwaway test clusters: no fsync, so tests run fast.
    Throwaway,
}

/// A running (or attached) private PostgreSQL cluster.
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    port: u16,
    password: String,
    /// `Some` when we started the server and must stop it.
    server: Option<ServerProcess>,
    /// How to start it again ([`EmbeddedPostgres::start_again`]).
    bin: PathBuf,
    log_path: PathBuf,
    durability: Durability,
    owner: Option<(u32, u32)>,
}

/// Tells whether the cluster is up, without holding it (for the readiness probe).
#[derive(Debug, Clone)]
pub struct EmbeddedProbe {
    data_dir: PathBuf,
    port: u16,
}

impl EmbeddedProbe {
    /// The server named in `postmaster.pid` is alive, ready, and on our port.
    pub fn is_running(&self) -> bool {
        running_server_port(&self.data_dir) == Some(self.port)
    }
}

struct ServerProcess {
    pid: i32,
    /// Receives once the server has exited (a `Mutex` so the handle can live in a `static`).
    exited: Mutex<mpsc::Receiver<()>>,
}

impl ServerProcess {
    fn wait_exit(&self, timeout: Duration) -> bool {
        match self.exited.lock() {
            Ok(exited) => exited.recv_timeout(timeout).is_ok(),
            Err(_) => false,
        }
    }
}

impl EmbeddedPostgres {
    /// Starts the cluster under `root` (the cluster lives in `root/pg`), creating it on first use.
    /// When a server from an earlier run is still up on the same folder, it is reused as is.
    pub fn start(root: &Path, durability: Durability) -> Result<Self, EmbeddedError> {
        let bin = find_bin_dir().ok_or(EmbeddedError::NoBinaries)?;
        let owner = server_owner()?;
        let io = |source| EmbeddedError::Io {
            dir: root.to_path_buf(),
            source,
        };
        fs::create_dir_all(root).map_err(io)?;
        if owner.is_some() {
            check_reachable(root)?;
        }
        let data_dir = root.join("pg");
        let password = load_or_create_password(root).map_err(io)?;

        if !data_dir.join("PG_VERSION").exists() {
            init_cluster(&bin, root, &data_dir, &password, owner)?;
        }

        let log_path = root.join("postgres.log");
        if let Some(port) = running_server_port(&data_dir) {
            tracing::info!(data_dir = %data_dir.display(), port, "reusing the private PostgreSQL already running");
            return Ok(Self {
                data_dir,
                port,
                password,
                server: None,
                bin,
                log_path,
                durability,
                owner,
            });
        }

        let port = free_port().map_err(io)?;
        let mut started = Self {
            data_dir,
            port,
            password,
            server: None,
            bin,
            log_path,
            durability,
            owner,
        };
        started.start_again()?;
        Ok(started)
    }

    /// Starts the server again on the same folder and port after [`EmbeddedPostgres::stop`]
    /// (tests use it to take the database away and bring it back while the app runs).
    pub fn start_again(&mut self) -> Result<(), EmbeddedError> {
        if self.server.is_some() {
            return Ok(());
        }
        let server = spawn_server(
            &self.bin,
            &self.data_dir,
            &self.log_path,
            self.port,
            self.durability,
            self.owner,
        )
        .map_err(|source| EmbeddedError::Io {
            dir: self.data_dir.clone(),
            source,
        })?;
        self.server = Some(server);
        self.wait_until_ready()?;
        tracing::info!(data_dir = %self.data_dir.display(), port = self.port, "private PostgreSQL started");
        Ok(())
    }

    /// The postmaster's process id, when we started it and it runs.
    pub fn server_pid(&self) -> Option<i32> {
        self.server.as_ref().map(|server| server.pid)
    }

    /// A cheap way to ask, later and elsewhere, whether the server is still up.
    pub fn probe(&self) -> EmbeddedProbe {
        EmbeddedProbe {
            data_dir: self.data_dir.clone(),
            port: self.port,
        }
    }

    /// URL of `database` on this cluster, as the superuser.
    pub fn database_url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_until_ready(&self) -> Result<(), EmbeddedError> {
        let log_path = self.log_path.as_path();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(server) = &self.server
                && server.wait_exit(Duration::ZERO)
            {
                return Err(EmbeddedError::Exited {
                    log: log_path.to_path_buf(),
                    tail: log_tail(log_path),
                });
            }
            if running_server_port(&self.data_dir) == Some(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::StartTimeout {
                    secs: 60,
                    log: log_path.to_path_buf(),
                    tail: log_tail(log_path),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server if we started it (fast shutdown: open sessions are ended).
    pub fn stop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        // SAFETY: plain kill(2) on the pid of the child we spawned and still wait on.
        unsafe { libc::kill(server.pid, libc::SIGINT) };
        if !server.wait_exit(Duration::from_secs(20)) {
            // SAFETY: as above; SIGQUIT is PostgreSQL's immediate shutdown.
            unsafe { libc::kill(server.pid, libc::SIGQUIT) };
            server.wait_exit(Duration::from_secs(5));
        }
        tracing::info!(data_dir = %self.data_dir.display(), "private PostgreSQL stopped");
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding `initdb` and `postgres`: from `PATH` first, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    find_bin_dir_in(
        std::env::var_os("PATH").as_deref(),
        Path::new("/usr/lib/postgresql"),
    )
}

fn find_bin_dir_in(path: Option<&std::ffi::OsStr>, versions_root: &Path) -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            if has_both(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(versions_root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// The uid/gid to run the server as: ourselves, or `postgres` when we are root.
fn server_owner() -> Result<Option<(u32, u32)>, EmbeddedError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: getpwnam with a valid C string; we copy the two fields out immediately.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(EmbeddedError::NoPostgresUser);
    }
    // SAFETY: non-null pointer returned by getpwnam.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

/// When the server runs as another user, every folder above its data must let others in.
fn check_reachable(root: &Path) -> Result<(), EmbeddedError> {
    let absolute = fs::canonicalize(root).map_err(|source| EmbeddedError::Io {
        dir: root.to_path_buf(),
        source,
    })?;
    for ancestor in absolute.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(EmbeddedError::Unreachable {
                dir: absolute.clone(),
                blocked: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn run_as(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

fn load_or_create_password(root: &Path) -> std::io::Result<String> {
    let path = root.join("postgres.password");
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let password = hex::encode(bytes);
    write_private_file(&path, password.as_bytes())?;
    Ok(password)
}

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode_private()
        .open(path)?;
    file.write_all(contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

fn init_cluster(
    bin: &Path,
    root: &Path,
    data_dir: &Path,
    password: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), EmbeddedError> {
    let io = |source| EmbeddedError::Io {
        dir: data_dir.to_path_buf(),
        source,
    };
    // A half-made cluster from an interrupted run would make initdb refuse: start clean.
    if data_dir.exists() {
        fs::remove_dir_all(data_dir).map_err(io)?;
    }
    fs::create_dir_all(data_dir).map_err(io)?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    chown(data_dir, owner).map_err(io)?;
    // initdb reads the password from a file; it runs as the cluster owner, so the file is theirs
    // for the moment it exists.
    let pwfile = root.join("initdb.pw");
    write_private_file(&pwfile, password.as_bytes()).map_err(io)?;
    chown(&pwfile, owner).map_err(io)?;

    let attempt = |locale: &[&str]| -> std::io::Result<std::process::Output> {
        let mut command = Command::new(bin.join("initdb"));
        command
            .arg("-D")
            .arg(data_dir)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(locale)
            .stdin(Stdio::null());
        run_as(&mut command, owner);
        command.output()
    };
    // C.UTF-8 keeps lower() right for non-ASCII names; fall back where the locale is missing.
    let mut output = attempt(&["--locale=C.UTF-8"]).map_err(io)?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(data_dir);
        fs::create_dir_all(data_dir).map_err(io)?;
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        chown(data_dir, owner).map_err(io)?;
        output = attempt(&["--no-locale"]).map_err(io)?;
    }
    let _ = fs::remove_file(&pwfile);
    if !output.status.success() {
        return Err(EmbeddedError::Initdb {
            dir: data_dir.to_path_buf(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// The port of a live, ready server on `data_dir`, read from its `postmaster.pid`.
fn running_server_port(data_dir: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = pid_file.lines().collect();
    let pid: i32 = lines.first()?.trim().parse().ok()?;
    let port: u16 = lines.get(3)?.trim().parse().ok()?;
    let ready = lines.get(7).is_some_and(|status| status.trim() == "ready");
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    (alive && ready).then_some(port)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_server(
    bin: &Path,
    data_dir: &Path,
    log_path: &Path,
    port: u16,
    durability: Durability,
    owner: Option<(u32, u32)>,
) -> std::io::Result<ServerProcess> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let mut command = Command::new(bin.join("postgres"));
    command
        .arg("-D")
        .arg(data_dir)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "max_connections=300"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if durability == Durability::Throwaway {
        command.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    run_as(&mut command, owner);
    // SAFETY: runs in the forked child before exec and only calls async-signal-safe prctl/getppid.
    let parent = unsafe { libc::getpid() };
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("parent exited during start-up"));
            }
            Ok(())
        });
    }

    // The parent-death signal follows the *thread* that forked, so fork from a thread that lives
    // exactly as long as the server: it waits on it and reports its exit.
    let (pid_tx, pid_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || match command.spawn() {
            Ok(mut child) => {
                let _ = pid_tx.send(Ok(child.id() as i32));
                let _ = child.wait();
                let _ = exit_tx.send(());
            }
            Err(error) => {
                let _ = pid_tx.send(Err(error));
            }
        })?;
    let pid = pid_rx
        .recv()
        .map_err(|_| std::io::Error::other("the server thread ended"))??;
    Ok(ServerProcess {
        pid,
        exited: Mutex::new(exit_rx),
    })
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("initdb"), "").unwrap();
        fs::write(dir.join("postgres"), "").unwrap();
    }

    #[test]
    fn binaries_are_found_on_the_path_first_then_the_newest_debian_version() {
        let root = tempfile::tempdir().unwrap();
        let versions = root.path().join("lib");
        fake_install(&versions.join("13/bin"));
        fake_install(&versions.join("16/bin"));
        fs::create_dir_all(versions.join("notaversion")).unwrap();
        assert_eq!(
            find_bin_dir_in(None, &versions),
            Some(versions.join("16/bin"))
        );

        let on_path = root.path().join("path");
        fake_install(&on_path);
        let path = std::env::join_paths([root.path().join("empty"), on_path.clone()]).unwrap();
        assert_eq!(find_bin_dir_in(Some(&path), &versions), Some(on_path));
    }

    #[test]
    fn a_data_folder_behind_a_private_folder_is_refused_with_the_culprit_named() {
        let root = tempfile::tempdir().unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let private = root.path().join("home");
        let data = private.join("data");
        fs::create_dir_all(&data).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        match check_reachable(&data) {
            Err(EmbeddedError::Unreachable { blocked, .. }) => {
                assert_eq!(blocked, fs::canonicalize(&private).unwrap())
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
        fs::set_permissions(&private, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_reachable(&data).is_ok());
    }

    #[test]
    fn without_postgresql_the_error_is_one_clear_sentence() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(find_bin_dir_in(None, &root.path().join("missing")), None);
        let message = EmbeddedError::NoBinaries.to_string();
        assert!(message.contains("set DATABASE_URL") && message.contains("docker compose up"));
        assert_eq!(message.matches(". ").count(), 0, "one sentence: {message}");
    }
}
