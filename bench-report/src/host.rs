//! The machine a report is made on and when: figures from a run under QEMU depend on the host
//! as much as on the guest, so every report says which host and date it comes from. Linux
//! sources (`/proc`, `/sys`) are read where present; elsewhere the answers say "unknown".

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    utc(seconds)
}

/// `seconds` since 1970 as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(seconds: u64) -> String {
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", of_day / 3600, of_day % 3600 / 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The host's processor model (x86 `model name`, else Arm's `Model`/`Hardware` line), or the
/// architecture's name.
pub fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    ["model name", "Model", "Hardware"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name.trim() == *key && !value.trim().is_empty()).then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| format!("unknown {} processor", std::env::consts::ARCH))
}

/// `host: <processor>, <n> logical CPUs, <os> <kernel release>`.
pub fn describe() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("host: {}, {cpus} logical CPUs, {} {}", cpu_model(), std::env::consts::OS, release.trim())
        .trim_end()
        .to_string()
}

/// Where a logical CPU sits: package (socket), die and cluster, as Linux reports them (`None`
/// where it does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    /// `physical_package_id`.
    pub package: Option<u32>,
    /// `die_id`.
    pub die: Option<u32>,
    /// `cluster_id` (cores sharing a cache level below the last, where the kernel knows).
    pub cluster: Option<u32>,
}

/// The topology of logical CPU `cpu`.
pub fn topology(cpu: usize) -> Topology {
    let read = |name: &str| -> Option<u32> {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/topology/{name}");
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    };
    Topology { package: read("physical_package_id"), die: read("die_id"), cluster: read("cluster_id") }
}

/// Where a core sits, as far as grouping goes: (package, die, cluster).
type Place = (u32, u32, u32);

/// Groups of cores from their topology (a figure's boundaries, a multicast tree's clusters): clusters where they group
/// several of the chosen cores, else packages and dies, else one group. Returns each core's
/// group and what a group is.
pub fn groups(topology: &[Topology]) -> (Vec<u32>, &'static str) {
    let distinct = |key: &dyn Fn(&Topology) -> Option<Place>| -> Option<Vec<u32>> {
        let keys: Vec<Place> = topology.iter().map(key).collect::<Option<_>>()?;
        let mut seen: Vec<Place> = Vec::new();
        let ids = keys
            .iter()
            .map(|key| {
                let id = seen.iter().position(|candidate| candidate == key).unwrap_or_else(|| {
                    seen.push(*key);
                    seen.len() - 1
                });
                id as u32
            })
            .collect();
        // Useful only if some group holds two or more cores and there are two or more groups.
        (seen.len() > 1 && seen.len() < keys.len()).then_some(ids)
    };
    let cluster = |t: &Topology| Some((t.package?, t.die.unwrap_or(0), t.cluster?));
    let package = |t: &Topology| Some((t.package?, t.die.unwrap_or(0), 0));
    if let Some(ids) = distinct(&cluster) {
        return (ids, "cluster");
    }
    if let Some(ids) = distinct(&package) {
        return (ids, "package/die");
    }
    (vec![0; topology.len()], "group")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_seconds() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400 + 3_600 + 60), "2000-02-29 01:01 UTC");
        assert_eq!(utc(1_767_225_600), "2026-01-01 00:00 UTC");
    }

    #[test]
    fn the_host_is_described_on_one_line() {
        let host = describe();
        assert!(host.starts_with("host: ") && !host.contains('\n'), "{host}");
    }

    #[test]
    fn groups_come_from_clusters_then_packages() {
        let core =
            |package, cluster| Topology { package: Some(package), die: Some(0), cluster: Some(cluster) };
        assert_eq!(groups(&[core(0, 0), core(0, 0), core(0, 1), core(0, 1)]), (vec![0, 0, 1, 1], "cluster"));
        // One cluster per core (as x86 hosts often say) is no grouping; packages are.
        assert_eq!(
            groups(&[core(0, 0), core(0, 1), core(1, 2), core(1, 3)]),
            (vec![0, 0, 1, 1], "package/die")
        );
        assert_eq!(groups(&[core(0, 0), core(0, 1)]), (vec![0, 0], "group"));
    }
}
