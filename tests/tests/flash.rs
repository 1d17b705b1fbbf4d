//! `scripts/flash IMAGE DEVICE`: the checks before the write, the question, the write and the
//! read-back, against plain files (which it writes only with `--force`), the disk this machine
//! runs on (refused, run as `nobody` when the tests run as root, so that even a broken check
//! could not write it), and, where the tests run as root and `losetup` works, loop devices:
//! a fixed disk refused without `--force`, written and verified with it, and refused while
//! mounted. Loop devices need root, so on an ordinary account those checks are skipped with a
//! line on standard error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REFUSED: i32 = 1;
const USAGE: i32 = 2;

fn flash_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/flash")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("flash-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// An image of pseudo-random bytes (not a multiple of the 4 MiB block dd uses).
fn image(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..(5 << 20) + 1234)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let path = dir.join("card.img");
    std::fs::write(&path, &bytes).expect("image");
    (path, bytes)
}

fn flash(args: &[&Path], stdin: &str) -> Output {
    flash_as(None, args, stdin)
}

fn flash_as(user: Option<&str>, args: &[&Path], stdin: &str) -> Output {
    flash_with(&flash_script(), user, args, stdin)
}

/// A scratch folder under the system's temporary folder that every user may enter and read.
fn public_scratch(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("mk-flash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("public scratch folder");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("permissions");
    dir
}

fn flash_with(script: &Path, user: Option<&str>, args: &[&Path], stdin: &str) -> Output {
    let mut command = match user {
        Some(user) => {
            let mut c = Command::new("setpriv");
            c.args([&format!("--reuid={user}"), "--regid=nogroup", "--clear-groups", "bash"]).arg(script);
            c
        }
        None => Command::new(script),
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/flash runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("answer");
    child.wait_with_output().expect("scripts/flash ends")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let dir = scratch("usage");
    let (img, _) = image(&dir);
    let missing = dir.join("nosuch.img");
    let cases: [(Vec<&Path>, &str); 5] = [
        (vec![], "no image given"),
        (vec![&img], "no device given"),
        (vec![&img, &img, &img], "too many arguments"),
        (vec![Path::new("--bogus"), &img, &img], "unknown option '--bogus'"),
        (vec![&missing, &img], "no such image file"),
    ];
    for (args, message) in cases {
        let output = flash(&args, "");
        assert_eq!(output.status.code(), Some(USAGE), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_plain_file_is_written_only_with_force_and_a_yes() {
    let dir = scratch("file");
    let (img, bytes) = image(&dir);
    let card = dir.join("card");
    let old = vec![0x5a_u8; 8 << 20];
    std::fs::write(&card, &old).unwrap();

    let refused = flash(&[&img, &card], "yes\n");
    assert_eq!(refused.status.code(), Some(REFUSED), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("is a regular file, not a disk"), "{}", stderr(&refused));
    assert!(std::fs::read(&card).unwrap() == old, "nothing may be written without --force");

    for answer in ["no\n", "", "y\n", "YES please\n"] {
        let declined = flash(&[Path::new("--force"), &img, &card], answer);
        assert_eq!(declined.status.code(), Some(REFUSED), "{answer:?}: {}", stderr(&declined));
        assert!(stderr(&declined).contains("not confirmed"), "{answer:?}: {}", stderr(&declined));
        assert!(std::fs::read(&card).unwrap() == old, "{answer:?} must not write");
    }

    let written = flash(&[Path::new("--force"), &img, &card], "yes\n");
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let text = stderr(&written);
    assert!(text.contains("Type yes to write"), "{text}");
    assert!(text.contains(&format!("verified ({} bytes)", bytes.len())), "{text}");
    let after = std::fs::read(&card).unwrap();
    assert!(after[..bytes.len()] == bytes[..], "the image must be on the card");
    assert!(after[bytes.len()..] == old[bytes.len()..], "what lies past the image stays");

    std::fs::write(&card, &old).unwrap();
    let unasked = flash(&[Path::new("--yes"), Path::new("--force"), &img, &card], "");
    assert_eq!(unasked.status.code(), Some(0), "{}", stderr(&unasked));
    assert!(!stderr(&unasked).contains("Type yes"), "--yes asks nothing");
    assert!(std::fs::read(&card).unwrap()[..bytes.len()] == bytes[..]);
}

#[test]
fn targets_that_are_no_card_are_refused_whatever_the_options() {
    let dir = scratch("odd");
    let (img, _) = image(&dir);
    let empty = dir.join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let link = dir.join("link-to-image");
    std::os::unix::fs::symlink(&img, &link).unwrap();
    let cases: [(&Path, &Path, &str); 4] = [
        (&img, Path::new("/dev/nonexistent-card"), "no such device"),
        (&img, Path::new("/dev/null"), "neither a block device nor a regular file"),
        (&img, &link, "is the image itself"),
        (&empty, &img, "is empty"),
    ];
    for (image, device, message) in cases {
        let output = flash(&[Path::new("--yes"), Path::new("--force"), image, device], "");
        assert_eq!(output.status.code(), Some(REFUSED), "{device:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{device:?}: {}", stderr(&output));
    }
    assert!(!Path::new("/dev/nonexistent-card").exists(), "a missing device is never created");
}

/// The whole disk `/` is on, if `/` is on a block device.
fn root_disk() -> Option<PathBuf> {
    let source = Command::new("findmnt").args(["-nvo", "SOURCE", "--mountpoint", "/"]).output().ok()?;
    let source = String::from_utf8(source.stdout).ok()?.trim().to_owned();
    let disks = Command::new("lsblk").args(["-nrpso", "NAME,TYPE", &source]).output().ok()?;
    let disks = String::from_utf8(disks.stdout).ok()?;
    let disk = disks.lines().find_map(|l| l.strip_suffix(" disk"))?;
    Some(PathBuf::from(disk))
}

#[test]
fn the_disk_of_the_running_system_is_refused_even_with_force() {
    let Some(disk) = root_disk() else {
        eprintln!("skipped: / is not on a block device here (a container?)");
        return;
    };
    // As root, run as nobody: a check that failed would then meet a permission error, never
    // a written system disk. Nobody must reach the script and the image: the checkout may sit
    // in a folder only its owner can enter (CI copies it into one), so both go into a folder
    // of their own that anyone may read.
    let user = is_root().then_some("nobody");
    let dir = match user {
        Some(_) => public_scratch("system"),
        None => scratch("system"),
    };
    let (img, _) = image(&dir);
    let script = dir.join("flash");
    std::fs::copy(flash_script(), &script).expect("a copy of scripts/flash");
    let output = flash_with(&script, user, &[Path::new("--yes"), Path::new("--force"), &img, &disk], "");
    assert_eq!(output.status.code(), Some(REFUSED), "{}", stderr(&output));
    assert!(stderr(&output).contains("holds the running system (/)"), "{}", stderr(&output));
    if user.is_some() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A loop device over `file`, detached when dropped.
struct Loop(PathBuf);

impl Loop {
    fn attach(file: &Path) -> Option<Loop> {
        let output = Command::new("losetup").args(["-f", "--show"]).arg(file).output().ok()?;
        output.status.success().then(|| Loop(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

#[test]
fn loop_devices_as_root_fixed_disks_need_force_and_mounted_ones_are_refused() {
    let dir = scratch("loop");
    let (img, bytes) = image(&dir);
    let backing = dir.join("disk");
    std::fs::write(&backing, vec![0_u8; 8 << 20]).unwrap();
    let device = match is_root().then(|| Loop::attach(&backing)).flatten() {
        Some(device) => device,
        None => {
            eprintln!("skipped: loop devices need root and a working losetup");
            return;
        }
    };
    let fixed = flash(&[Path::new("--yes"), &img, &device.0], "");
    assert_eq!(fixed.status.code(), Some(REFUSED), "{}", stderr(&fixed));
    assert!(stderr(&fixed).contains("is not a removable disk"), "{}", stderr(&fixed));

    let forced = flash(&[Path::new("--yes"), Path::new("--force"), &img, &device.0], "");
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(stderr(&forced).contains("size: 8.0MiB"), "the device's size is shown: {}", stderr(&forced));
    assert!(std::fs::read(&backing).unwrap()[..bytes.len()] == bytes[..], "written through the loop device");
    drop(device);

    // Mounted: an ext2 file system on a second loop device (where the kernel mounts one).
    let fs_file = dir.join("fs");
    std::fs::write(&fs_file, vec![0_u8; 8 << 20]).unwrap();
    let made = Command::new("mke2fs").args(["-q", "-F"]).arg(&fs_file).status();
    let Some(device) = made.is_ok_and(|s| s.success()).then(|| Loop::attach(&fs_file)).flatten() else {
        eprintln!("skipped the mounted case: no mke2fs or no loop device");
        return;
    };
    let mount_point = dir.join("mnt");
    std::fs::create_dir_all(&mount_point).unwrap();
    if !Command::new("mount").arg(&device.0).arg(&mount_point).status().is_ok_and(|s| s.success()) {
        eprintln!("skipped the mounted case: this kernel does not mount ext2");
        return;
    }
    let mounted = flash(&[Path::new("--yes"), Path::new("--force"), &img, &device.0], "");
    let _ = Command::new("umount").arg(&mount_point).status();
    assert_eq!(mounted.status.code(), Some(REFUSED), "{}", stderr(&mounted));
    assert!(stderr(&mounted).contains("is mounted on"), "{}", stderr(&mounted));
}
