//! `mkbootimage --stub STUB.elf --cpu-driver 0:cortex-a53:LITTLE.elf --cpu-driver 1:cortex-a72:BIG.elf
//!  --program monitor:MONITOR.elf -o Image`
//!
//! Packs the boot stub and the CPU-driver builds into one arm64 Image (see the `bootimage` crate).

use bootimage::pack::{pack, CpuDriverInput, ProgramInput, DEFAULT_SCRATCH_SIZE};
use std::process::ExitCode;

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut stub, mut out, mut drivers, mut programs) = (None, None, Vec::new(), Vec::new());
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--stub" => stub = Some(value()?),
            "-o" | "--output" => out = Some(value()?),
            "--cpu-driver" => {
                let spec = value()?;
                let mut parts = spec.splitn(3, ':');
                let (Some(build), Some(name), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(format!("--cpu-driver wants BUILD:NAME:PATH, got {spec}"));
                };
                let build: u32 = build.parse().map_err(|_| format!("bad build class in {spec}"))?;
                drivers.push((build, name.to_string(), path.to_string()));
            }
            "--program" => {
                let spec = value()?;
                let Some((name, path)) = spec.split_once(':') else {
                    return Err(format!("--program wants NAME:PATH, got {spec}"));
                };
                programs.push((name.to_string(), path.to_string()));
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let stub = stub.ok_or("--stub is required")?;
    let out = out.ok_or("-o is required")?;
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
    let stub_elf = read(&stub)?;
    let elfs = drivers.iter().map(|(_, _, path)| read(path)).collect::<Result<Vec<_>, _>>()?;
    let inputs: Vec<_> = drivers
        .iter()
        .zip(&elfs)
        .map(|((build, name, _), elf)| CpuDriverInput { build: *build, name, elf })
        .collect();
    let program_elfs = programs.iter().map(|(_, path)| read(path)).collect::<Result<Vec<_>, _>>()?;
    let program_inputs: Vec<_> =
        programs.iter().zip(&program_elfs).map(|((name, _), elf)| ProgramInput { name, elf }).collect();
    let image = pack(&stub_elf, &inputs, &program_inputs, DEFAULT_SCRATCH_SIZE)?;
    std::fs::write(&out, &image).map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "mkbootimage: wrote {out} ({} KiB, {} CPU-driver builds, {} programs)",
        image.len() / 1024,
        inputs.len(),
        program_inputs.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkbootimage: {e}");
            ExitCode::FAILURE
        }
    }
}
