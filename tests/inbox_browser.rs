//! The mock's inbox page in a real browser: messages sent with the C program
//! `hero_send`, then headless Chromium (Debian's `chromium`, installed by
//! `.ci/run`) loads `/_mock/` and the test reads the rendered DOM through the
//! DevTools protocol: every message shown, SMS segment counts for a GSM-7
//! and a UCS-2 text, an HTML payload shown as text and never run, the
//! patient filter, and a message arriving while the page is open.
//!
//! A screenshot goes to `target/inbox.png`. The README's picture,
//! `src/bin/hero-mock/inbox.png`, is checked against the page source it was
//! made from; refresh it with `HERO_WRITE_SCREENSHOT=1 cargo test --test
//! inbox_browser`.
//!
//! Unix only: Chromium's DevTools pipe is handed over on file descriptors 3
//! and 4, which only a Unix shell can set up without unsafe code, and the
//! browser CI runs is Debian's.
#![cfg(unix)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod common;
use common::{GROUP, KEY, Mock, unique_hex};

/// 178 characters, two of them (`{`, `}`) from the GSM-7 extension table:
/// 180 septets, so 2 segments of at most 153.
const GSM7_TEXT: &str = "Dear patient, your flu vaccination is booked for Tuesday 3 December at \
10:40 at Riverside Surgery. Please arrive 5 minutes early. Reply CANCEL if you cannot attend. \
{Ref: A-1234}";
/// 93 characters; `ë` and `’` (a typographic apostrophe, as templates
/// written in a word processor have) are outside GSM-7, so UCS-2: 2 segments
/// of at most 67.
const UCS2_TEXT: &str = "Hi Zoë, your repeat prescription is ready to collect from the pharmacy. \
We’re open until 6pm.";
/// Would set the title if any of it ran as HTML.
const PAYLOAD: &str =
    "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
const TITLE: &str = "hero-mock inbox";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Debian's `chromium` (or `HERO_CHROMIUM`); `None` skips the test, except
/// under CI, where `.ci/run` installs it and its absence is a failure.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("HERO_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not on PATH (apt-get install chromium)"
        );
        eprintln!(
            "\n*** NOTE: chromium is not on PATH: the inbox browser test is SKIPPED. ***\n\
             *** Install Debian's `chromium` package to run it.                    ***\n"
        );
    }
    found
}

/// `examples-c/build`, after `make -C examples-c` (as tests/c_programs.rs does).
fn programs() -> &'static Path {
    common::c_programs()
}

/// Runs `hero_send` against the mock and returns its exit code.
fn hero_send(mock: &Mock, args: &[&str]) -> i32 {
    let out = Command::new(programs().join("hero_send"))
        .args(args)
        .env("HERO_BASE_URL", mock.base_url())
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .env_remove("HERO_ENVIRONMENT")
        .env_remove("HERO_CA_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run hero_send");
    out.status.code().expect("hero_send exited")
}

/// Flags every Chromium run here gets: headless, no network of its own, a
/// fresh profile.
fn chromium_command(chromium: &Path, profile: &Path) -> Vec<String> {
    [
        chromium.display().to_string(),
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        "--window-size=1000,1700".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
    .into()
}

/// A fresh Chromium profile directory, removed on drop.
struct Profile(PathBuf);

impl Profile {
    fn new() -> Profile {
        let dir = std::env::temp_dir().join(format!("hero-inbox-chromium-{}", unique_hex()));
        std::fs::create_dir_all(&dir).expect("profile dir");
        Profile(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Headless Chromium driven over `--remote-debugging-pipe`: commands go in
/// on its fd 3, replies and events come out on fd 4, each JSON message ended
/// by a NUL byte.
struct Browser {
    child: Child,
    commands: ChildStdin,
    replies: Receiver<Value>,
    session: String,
    next_id: u64,
    _profile: Profile,
}

impl Browser {
    fn open(chromium: &Path, url: &str) -> Browser {
        let profile = Profile::new();
        let mut args = chromium_command(chromium, &profile.0);
        args.push("--remote-debugging-pipe".into());
        args.push(url.into());
        // The shell moves our stdin/stdout pipes to fds 3 and 4.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let commands = child.stdin.take().expect("piped stdin");
        let mut out = child.stdout.take().expect("piped stdout");
        let (tx, replies) = mpsc::channel();
        thread::spawn(move || {
            let mut pending = Vec::new();
            let mut chunk = [0u8; 64 * 1024];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&chunk[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice(&message[..end])
                        && tx.send(value).is_err()
                    {
                        return;
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            commands,
            replies,
            session: String::new(),
            next_id: 1,
            _profile: profile,
        };
        // The page target appears once the browser has opened the URL.
        let started = Instant::now();
        let target = loop {
            let targets = browser.call("Target.getTargets", json!({}), false);
            let page = targets["targetInfos"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["type"] == "page")
                .map(|t| t["targetId"].clone());
            if let Some(page) = page {
                break page;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no page target"
            );
            thread::sleep(Duration::from_millis(100));
        };
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            false,
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    /// Sends one command (to the page's session when `on_page`) and waits
    /// for its result, skipping events.
    fn call(&mut self, method: &str, params: Value, on_page: bool) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if on_page {
            command["sessionId"] = self.session.clone().into();
        }
        let mut bytes = command.to_string().into_bytes();
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .replies
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no reply to {method}: {e}"));
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            true,
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    fn wait_for(&mut self, expression: &str, what: &str) {
        let started = Instant::now();
        while self.eval(expression) != json!(true) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the page shows, read from the live DOM: the title, how many images
/// and scripts exist, and per message article its data attributes, the
/// visible text and the segment counter's attributes.
const SNAPSHOT: &str = r#"JSON.stringify({
  title: document.title,
  images: document.images.length,
  scripts: document.scripts.length,
  articles: [...document.querySelectorAll("article.msg")].map(a => ({
    type: a.dataset.type,
    patient: a.dataset.patient,
    text: a.innerText,
    classes: a.className,
    segments: a.querySelector(".segcount") ? { ...a.querySelector(".segcount").dataset } : null,
  })),
})"#;

fn snapshot(browser: &mut Browser) -> Value {
    let text = browser.eval(SNAPSHOT);
    serde_json::from_str(text.as_str().expect("a string")).expect("snapshot JSON")
}

fn article<'a>(snap: &'a Value, patient: &str, kind: &str) -> &'a Value {
    snap["articles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["patient"] == patient && a["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} article for patient {patient}: {snap}"))
}

#[test]
fn inbox_shows_each_message_as_the_patient_would_and_runs_none_of_it() {
    let Some(chromium) = chromium() else {
        return;
    };
    let mock = Mock::start();
    #[rustfmt::skip]
    let sends: [&[&str]; 5] = [
        &[
            "--patient-id", "4242", "--type", "sms", "--message", GSM7_TEXT,
            "--recipient", "07700 900123", "--write-to-record",
            "--snomed-code", "185317003", "--snomed-term", "Encounter by computer link",
        ],
        &[
            "--patient-id", "4242", "--type", "sms", "--message", UCS2_TEXT,
            "--recipient", "+44 7700 900456",
        ],
        &[
            "--patient-id", "5151", "--type", "email", "--message", PAYLOAD,
            "--recipient", "patient@example.com", "--send-at", "2026-12-01T09:00:00Z",
        ],
        &[
            "--patient-id", "6262", "--type", "nhs_app", "--message",
            "Your blood test results are ready. Log in to view them.",
            "--fallback-type", "sms", "--fallback-contact", "07700 900789",
        ],
        &["--patient-id", "999422", "--type", "sms", "--message", "Unknown patient"],
    ];
    let codes: Vec<i32> = sends.iter().map(|args| hero_send(&mock, args)).collect();
    assert_eq!(codes, [0, 0, 0, 0, 3], "hero_send exit codes");

    let url = format!("{}/_mock/", mock.base_url());
    let mut browser = Browser::open(&chromium, &url);
    browser.wait_for(
        "document.querySelectorAll('article.msg').length === 5",
        "the five messages",
    );

    // A message sent while the page is open shows up without a reload.
    browser.eval("window.sameDocument = true");
    #[rustfmt::skip]
    let code = hero_send(
        &mock,
        &[
            "--patient-id", "7373", "--type", "hero", "--message", "Letter about the review sent",
            "--write-to-record", "--auto-write-to-record", "--snomed-code", "185317003",
        ],
    );
    assert_eq!(code, 0);
    browser.wait_for(
        "document.querySelectorAll('article.msg').length === 6",
        "the message sent while the page was open",
    );
    assert_eq!(browser.eval("window.sameDocument === true"), json!(true));

    let snap = snapshot(&mut browser);
    assert_eq!(snap["title"], TITLE, "something in a message ran");
    assert_eq!(snap["images"], 0, "a message's <img> became an element");
    assert_eq!(snap["scripts"], 1, "only the page's own script");
    let patients: Vec<&str> = snap["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["patient"].as_str().unwrap())
        .collect();
    assert_eq!(
        patients,
        ["7373", "999422", "6262", "5151", "4242", "4242"],
        "newest first"
    );

    // Patient 4242's two texts: the UCS-2 one is newer.
    let gsm = &snap["articles"][5];
    let gsm_text = gsm["text"].as_str().unwrap();
    assert!(gsm_text.contains(GSM7_TEXT), "{gsm_text}");
    assert!(gsm_text.contains("To 07700 900123"), "{gsm_text}");
    assert!(
        gsm_text.contains("178 characters · GSM-7 · 2 SMS segments"),
        "{gsm_text}"
    );
    assert_eq!(
        gsm["segments"],
        json!({ "encoding": "GSM-7", "segments": "2", "characters": "178" })
    );
    assert!(
        gsm_text.contains("Writes to record: SNOMED 185317003 — Encounter by computer link"),
        "{gsm_text}"
    );

    let ucs = &snap["articles"][4];
    let ucs_text = ucs["text"].as_str().unwrap();
    assert!(ucs_text.contains(UCS2_TEXT), "{ucs_text}");
    assert!(
        ucs_text.contains("93 characters · UCS-2 · 2 SMS segments"),
        "{ucs_text}"
    );
    assert_eq!(
        ucs["segments"],
        json!({ "encoding": "UCS-2", "segments": "2", "characters": "93" })
    );

    let email = article(&snap, "5151", "email");
    let email_text = email["text"].as_str().unwrap();
    assert!(
        email_text.contains(PAYLOAD),
        "payload not shown as text: {email_text}"
    );
    assert!(email_text.contains("patient@example.com"), "{email_text}");
    assert!(
        email_text.contains("Scheduled: 2026-12-01T09:00:00Z"),
        "{email_text}"
    );

    let app = article(&snap, "6262", "nhs_app");
    let app_text = app["text"].as_str().unwrap();
    assert!(app_text.contains("NHS App"), "{app_text}");
    assert!(
        app_text.contains("Your blood test results are ready."),
        "{app_text}"
    );
    assert!(
        app_text.contains("Fallback: sms to 07700 900789 (1 SMS segment)"),
        "{app_text}"
    );

    let refused = article(&snap, "999422", "sms");
    assert!(refused["classes"].as_str().unwrap().contains("refused"));
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("Refused 422: patient_id: patient not found"),
        "{refused}"
    );

    let record = article(&snap, "7373", "hero");
    let record_text = record["text"].as_str().unwrap();
    assert!(
        record_text.contains("Letter about the review sent"),
        "{record_text}"
    );
    assert!(
        record_text.contains("SNOMED 185317003 · automatic"),
        "{record_text}"
    );

    // The patient filter, used as a person would.
    browser.eval(
        "const s = document.getElementById('patient'); s.value = '4242'; \
         s.dispatchEvent(new Event('change')); true",
    );
    let filtered = snapshot(&mut browser);
    let shown: Vec<&str> = filtered["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["patient"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["4242", "4242"]);
    drop(browser);

    screenshot(&chromium, &url);
}

/// `target/inbox.png`, and the README's copy when asked for or checked
/// against the page it shows.
fn screenshot(chromium: &Path, url: &str) {
    let profile = Profile::new();
    let shot = root().join("target").join("inbox.png");
    let _ = std::fs::remove_file(&shot);
    let mut args = chromium_command(chromium, &profile.0);
    args.push(format!("--screenshot={}", shot.display()));
    args.push("--virtual-time-budget=3000".into());
    args.push(url.into());
    let status = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run chromium for the screenshot");
    assert!(status.success(), "chromium --screenshot: {status}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    eprintln!("inbox screenshot: {}", shot.display());

    let page = std::fs::read(root().join("src/bin/hero-mock/inbox.html")).expect("inbox.html");
    let picture = root().join("src/bin/hero-mock/inbox.png");
    let stamp = root().join("src/bin/hero-mock/inbox.png.source");
    let expected = format!("{:016x}\n", fnv1a(&page));
    if std::env::var_os("HERO_WRITE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, &picture).expect("copy the screenshot");
        std::fs::write(&stamp, &expected).expect("write the stamp");
        return;
    }
    let recorded = std::fs::read_to_string(&stamp).unwrap_or_default();
    assert_eq!(
        recorded, expected,
        "src/bin/hero-mock/inbox.png shows an older inbox.html; refresh it with \
         HERO_WRITE_SCREENSHOT=1 cargo test --test inbox_browser"
    );
}

/// FNV-1a: a hash that stays the same across Rust releases, for the stamp.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
