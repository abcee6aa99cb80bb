//! The batch runner from Rust: one CSV through one shared client, with or
//! without the send journal, to measure what the journal costs.
//!
//! Usage: batch_rust URL FILE CONCURRENCY JOURNAL|-
//! Prints one `key=value` line; exits 1 unless every row was sent.

use std::time::Instant;

use herohealth::{BatchRunner, Client, Journal, RowOutcome, Target};

const API_KEY: &str = "bench-api-key-0123456789";
const PRACTICE_GROUP: &str = "bench-practice-group";
const TEXT: &str = "Dear ((first_name)), your blood test results are back and are normal. \
No further action is needed. If you have any questions, call Riverside Surgery on 0161 496 0000.";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: batch_rust URL FILE CONCURRENCY JOURNAL|-");
        std::process::exit(2);
    }
    let concurrency: usize = args[3].parse().expect("CONCURRENCY");
    let client = Client::builder(Target::Custom(args[1].clone()), API_KEY, PRACTICE_GROUP)
        .build()
        .expect("client");
    let journal = (args[4] != "-").then(|| Journal::open(&args[4]).expect("journal"));
    let runner = BatchRunner::new()
        .default_value("message_type", "sms")
        .and_then(|r| r.default_value("message_string", TEXT))
        .expect("defaults")
        .concurrency(concurrency);
    let started = Instant::now();
    let summary = runner
        .run(&client, journal.as_ref(), &args[2], |_, _| {})
        .expect("batch");
    let secs = started.elapsed().as_secs_f64();
    let sent = summary.count(RowOutcome::Sent);
    println!(
        "rows={} sent={sent} concurrency={concurrency} journal={} secs={secs:.3} rows_per_s={:.0}",
        summary.total(),
        journal.is_some(),
        summary.total() as f64 / secs
    );
    if sent != summary.total() {
        eprintln!("batch_rust: {}", summary.summary_line());
        std::process::exit(1);
    }
}
