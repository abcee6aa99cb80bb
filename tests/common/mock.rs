//! The real `hero-mock` binary as a child process, recording every request.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use herohealth::{Client, ClientBuilder, Target};

use super::fixtures::unique_hex;
use super::programs::c_programs;

/// The key the mock expects unless a test passes `--api-key` again.
pub const KEY: &str = "test-key";
/// The practice group id the mock expects.
pub const GROUP: &str = "test-group";

/// A running `hero-mock`, recording every request it reads to `record`.
/// Dropping it kills the process and removes the record file.
pub struct Mock {
    pub port: u16,
    pub record: PathBuf,
    child: Child,
}

impl Mock {
    /// The mock with the test credentials and a fresh record file.
    pub fn start() -> Mock {
        Mock::start_with(&[])
    }

    /// Like [`Mock::start`], with more flags (later flags override earlier
    /// ones, so `--api-key other` replaces the test key).
    pub fn start_with(extra: &[&str]) -> Mock {
        let record = std::env::temp_dir().join(format!("hero-mock-record-{}.jsonl", unique_hex()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_hero-mock"))
            .args([
                "--port",
                "0",
                "--api-key",
                KEY,
                "--practice-group-id",
                GROUP,
            ])
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hero-mock");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim_end()
            .strip_prefix("hero-mock listening on http://127.0.0.1:")
            .and_then(|p| p.parse().ok());
        match port {
            Some(port) => Mock {
                port,
                record,
                child,
            },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("hero-mock did not start: {read:?}, first line {line:?}");
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the mock has read so far, one JSON object each:
    /// `method`, `path`, `headers` (names lowercased), `body` (a string).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("record line is JSON"))
            .collect()
    }

    /// A builder aimed at this mock with the credentials it expects.
    pub fn client(&self) -> ClientBuilder {
        Client::builder(Target::Custom(self.base_url()), KEY, GROUP)
    }

    /// `hero_send ARGS` aimed at this mock with the test credentials, no
    /// environment or CA file of the caller's, and stdin closed.
    pub fn hero_send(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(c_programs().join("hero_send"));
        cmd.env("HERO_BASE_URL", self.base_url())
            .env("HERO_API_KEY", KEY)
            .env("HERO_PRACTICE_GROUP_ID", GROUP)
            .env_remove("HERO_ENVIRONMENT")
            .env_remove("HERO_CA_FILE")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.record);
    }
}
