//! herohealth from Rust: one client shared by all threads (keep-alive pool);
//! each send builds the message, sends it and reads message_id.
//!
//! Usage: send_rust URL SENDS THREADS [CA_FILE|-] [RSS_AT]
//! Prints one `key=value` line, like the C senders.

use std::hint::black_box;
use std::time::Instant;

use herohealth::{Client, MessageType, SendMessage, Target};

const PATIENT_ID: &str = "4242001";
const TEXT: &str = "Dear patient, your blood test results are back and are normal. No \
further action is needed. If you have any questions, call Riverside Surgery on 0161 496 0000.";
const RECIPIENT: &str = "07700 900123";
const SNOMED: &str = "185317003";
const API_KEY: &str = "bench-api-key-0123456789";
const PRACTICE_GROUP: &str = "bench-practice-group";

fn proc_kib(field: &str) -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(-1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: send_rust URL SENDS THREADS [CA_FILE|-] [RSS_AT]");
        std::process::exit(2);
    }
    let url = args[1].clone();
    let sends: u64 = args[2].parse().expect("SENDS");
    let threads: u64 = args[3].parse().expect("THREADS");
    let ca = args.get(4).filter(|s| s.as_str() != "-").cloned();
    let rss_at: u64 = args.get(5).map_or(0, |s| s.parse().expect("RSS_AT"));

    let mut builder = Client::builder(Target::Custom(url), API_KEY, PRACTICE_GROUP);
    if let Some(ca) = ca {
        builder = builder.ca_file(ca);
    }
    let client = builder.build().unwrap_or_else(|e| {
        eprintln!("send_rust: client: {e}");
        std::process::exit(1)
    });

    let barrier = std::sync::Barrier::new(threads as usize + 1);
    let secs = std::thread::scope(|s| {
        for id in 0..threads {
            let client = &client;
            let barrier = &barrier;
            let n = sends / threads + u64::from(id < sends % threads);
            s.spawn(move || {
                barrier.wait();
                for i in 0..n {
                    let msg = SendMessage::new(PATIENT_ID, MessageType::Sms, TEXT)
                        .recipient_contact_detail(RECIPIENT)
                        .write_to_record(true)
                        .snomed_code(SNOMED);
                    match client.send(&msg) {
                        Ok(reply) if !reply.message_id().is_empty() => {
                            black_box(reply.message_id());
                        }
                        Ok(_) => {
                            eprintln!("send_rust: empty message_id");
                            std::process::exit(1);
                        }
                        Err(e) => {
                            eprintln!("send_rust: send failed: {e}");
                            std::process::exit(1);
                        }
                    }
                    if id == 0 && rss_at != 0 && i + 1 == rss_at {
                        print!("rss_kib_at_{}={} ", rss_at * threads, proc_kib("VmRSS"));
                    }
                }
            });
        }
        let t0 = Instant::now();
        barrier.wait();
        t0
    });
    let secs = secs.elapsed().as_secs_f64();
    println!(
        "client=hero-rust sends={sends} threads={threads} secs={secs:.6} conns={} rss_kib_end={} maxrss_kib={}",
        client.connections_opened(),
        proc_kib("VmRSS"),
        proc_kib("VmHWM")
    );
}
