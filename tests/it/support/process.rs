//! The real `hookgate` binary as a child process, for tests of signals and crashes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

pub struct ServerProcess {
    child: Child,
    pub url: String,
    /// stdout lines up to and including the operator-token banner.
    pub banner: Vec<String>,
}

impl ServerProcess {
    /// `hookgate serve --listen 127.0.0.1:0 <args>` in `dir`; waits for the banner.
    pub fn start(dir: &Path, args: &[String]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("HOOKGATE_DATABASE_URL")
            .env_remove("HOOKGATE_AMQP_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut banner = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            let last = line.starts_with("  hgop_")
                || line.starts_with("operator token: see")
                || line.starts_with("operator token: configured");
            banner.push(line);
            if last {
                break;
            }
        }
        let url = banner
            .first()
            .and_then(|l| l.strip_prefix("hookgate listening on "))
            .unwrap_or_else(|| panic!("no banner: {banner:?}"))
            .to_owned();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child, url, banner }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to 5 s for the exit status.
    pub fn terminate(self) -> ExitStatus {
        self.signal("-TERM");
        self.wait_exit()
    }

    /// Waits up to 5 s for the process to exit (after a signal sent elsewhere).
    pub fn wait_exit(mut self) -> ExitStatus {
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("hookgate did not exit within 5 s of SIGTERM");
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn crash(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
