//! `unmap-report CONSOLE_LOG OUT_DIR`: the unmap experiment's console lines
//! (`scripts/run bench unmap`) as `OUT_DIR/unmap.csv` and `OUT_DIR/unmap.svg`, and a summary
//! of the tree and broadcast against unicast at every k. Exit status 0, 1 when the log has no
//! measurement or a file cannot be read or written, 2 for a usage error.

use std::process::ExitCode;

use bench_report::unmap::{self, Row};

fn p50(rows: &[Row], cores: u32, strategy: &str) -> Option<u64> {
    rows.iter().find(|r| r.cores == cores && r.strategy == strategy).map(|r| r.p50_ns)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [console, out] = args.as_slice() else {
        eprintln!("usage: unmap-report CONSOLE_LOG OUT_DIR");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(console) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("unmap-report: cannot read {console}: {e}");
            return ExitCode::from(1);
        }
    };
    let (rows, skipped) = unmap::parse(&text);
    if rows.is_empty() {
        eprintln!("unmap-report: no `unmap cores=` measurement in {console}");
        return ExitCode::from(1);
    }
    let skipped =
        if skipped > 0 { format!(", {skipped} lines without a measurement") } else { String::new() };
    let notes = vec![
        format!("{} rows from {console}{skipped}", rows.len()),
        format!("{}, {}", bench_report::host::describe(), bench_report::host::utc_now()),
    ];
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(format!("{out}/unmap.csv"), unmap::csv(&rows)))
        .and_then(|()| std::fs::write(format!("{out}/unmap.svg"), unmap::plot(&rows, notes).svg()));
    if let Err(e) = written {
        eprintln!("unmap-report: cannot write {out}: {e}");
        return ExitCode::from(1);
    }
    let most = rows.iter().map(|r| r.cores).max().unwrap_or(0);
    for cores in 2..=most {
        let Some(unicast) = p50(&rows, cores, "unicast") else { continue };
        let ratio = |s| {
            p50(&rows, cores, s).map_or_else(|| "-".into(), |v| format!("{:.2}", v as f64 / unicast as f64))
        };
        println!(
            "unmap cores={cores}: p50 against unicast: broadcast {}, tree {}, shared-tlbi {}",
            ratio("broadcast"),
            ratio("tree"),
            ratio("shared-tlbi")
        );
    }
    println!("unmap-report: wrote {out}/unmap.csv and {out}/unmap.svg");
    ExitCode::SUCCESS
}
