//! Which CPU-driver build each core gets, and its performance class, on trees whose capacity
//! classes and core designs disagree (hand-written fixtures in `tests/data/synthetic` in the
//! shapes of Linux's SDM630, SC8280XP, SDM845 and Tegra186 trees, and an A78AE + A55 tree):
//! the build follows the design, the class the capacities; a design the tree does not name is
//! decided from MIDR at boot and ranks neither above nor below the others.

use skb::{BuildChoice, CpuDriverBuild, Skb};

fn fixture(name: &str) -> Skb {
    let path = format!("{}/tests/data/synthetic/{name}", env!("CARGO_MANIFEST_DIR"));
    let skb = Skb::from_dtb(&std::fs::read(&path).unwrap()).unwrap();
    assert!(skb.warnings.is_empty(), "{name}: {:?}", skb.warnings);
    skb
}

fn builds(skb: &Skb) -> Vec<&'static str> {
    (0..skb.cpus.len()).map(|i| skb::json::build_text(skb, i).unwrap()).collect()
}

fn classes(skb: &Skb) -> Vec<u8> {
    skb.cpus.iter().map(|c| c.class).collect()
}

#[test]
fn eight_cortex_a53_in_two_capacity_classes_all_run_the_little_build() {
    let skb = fixture("sdm630-eight-a53.dtb");
    assert_eq!(classes(&skb), [1, 1, 1, 1, 0, 0, 0, 0], "the 1024-capacity cluster ranks higher");
    assert_eq!(builds(&skb), ["cortex-a53"; 8], "every core is an in-order Cortex-A53");
}

#[test]
fn cortex_a78c_in_the_lower_class_still_runs_the_big_build() {
    let skb = fixture("sc8280xp-a78c-x1c.dtb");
    assert_eq!(classes(&skb), [0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(builds(&skb), ["cortex-a72"; 8], "A78C and X1C are both out of order");
    assert_eq!(skb.cluster_count(), 1);
}

#[test]
fn capacities_that_rank_a55_above_a78ae_move_classes_not_builds() {
    let skb = fixture("a78ae-first-a55-capacities-inverted.dtb");
    assert_eq!(classes(&skb), [0, 0, 1, 1, 1, 1], "classes are the tree's capacity ranks");
    assert_eq!(
        builds(&skb),
        ["cortex-a72", "cortex-a72", "cortex-a53", "cortex-a53", "cortex-a53", "cortex-a53"]
    );
    assert_eq!(skb.cpus[0].micro_arch.map(|a| a.name()), Some("cortex-a78ae"));
}

#[test]
fn unknown_designs_are_decided_from_midr_and_do_not_rank_below_known_ones() {
    let skb = fixture("tegra186-denver-a57.dtb");
    assert_eq!(skb.cpus[0].micro_arch, None, "nvidia,tegra186-denver is not in the table");
    assert_eq!(skb.build_choice(0), Some(BuildChoice::FromMidrAtBoot));
    assert_eq!(skb.build_choice(2), Some(BuildChoice::FromTree(CpuDriverBuild::Big)));
    assert_eq!(builds(&skb)[..3], ["decided from MIDR at boot", "decided from MIDR at boot", "cortex-a72"]);
    // Nothing in the tree orders a Denver against an A57: one class, not Denver below.
    assert_eq!(classes(&skb), [0; 6]);
    // Before the core runs (a secondary), the portable build; once it runs, its MIDR decides.
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Little));
    assert_eq!(skb.cpu_driver_build_running(0, 0x4e0f_0030), Some(CpuDriverBuild::Little), "Denver: unknown");
    assert_eq!(skb.cpu_driver_build_running(0, 0x410f_d070), Some(CpuDriverBuild::Big), "an A57's MIDR");
    // A core the tree names keeps the tree's build, whatever MIDR is passed.
    assert_eq!(skb.cpu_driver_build_running(2, 0x410f_d034), Some(CpuDriverBuild::Big));
    assert_eq!(skb.cpu_driver_build_running(6, 0x410f_d070), None, "no such core");
}

#[test]
fn kryo_cores_take_capacity_classes_and_their_build_from_midr() {
    let skb = fixture("sdm845-kryo385.dtb");
    assert_eq!(classes(&skb), [0, 0, 0, 0, 1, 1, 1, 1], "capacities order what the compatible cannot");
    assert!(skb.cpus.iter().all(|c| c.micro_arch.is_none()));
    assert_eq!(builds(&skb), ["decided from MIDR at boot"; 8]);
    // SDM845's Kryo 385 Silver (part 0x803, A55-based) and Gold (0x802, A75-based).
    assert_eq!(skb.cpu_driver_build_running(0, 0x517f_803c), Some(CpuDriverBuild::Little));
    assert_eq!(skb.cpu_driver_build_running(4, 0x516f_802d), Some(CpuDriverBuild::Big));
}

#[test]
fn vendor_compatibles_are_unknown_designs() {
    for compatible in [
        "qcom,kryo",
        "qcom,kryo260",
        "qcom,kryo385",
        "nvidia,tegra132-denver",
        "nvidia,tegra194-carmel",
        "apple,icestorm",
        "apple,firestorm",
        "brcm,brahma-b53",
        "arm,cortex-a32", // AArch32 only: no AArch64 build runs on it
        "arm,armv8",
    ] {
        assert_eq!(skb::micro_arch_from_compatible(compatible), None, "{compatible}");
    }
    for (compatible, pipeline) in [
        ("arm,cortex-a35", skb::Pipeline::InOrder),
        ("arm,cortex-a510", skb::Pipeline::InOrder),
        ("arm,cortex-a520", skb::Pipeline::InOrder),
        ("arm,cortex-a57", skb::Pipeline::OutOfOrder),
        ("arm,cortex-a78ae", skb::Pipeline::OutOfOrder),
        ("arm,neoverse-n1", skb::Pipeline::OutOfOrder),
    ] {
        let arch = skb::micro_arch_from_compatible(compatible).unwrap();
        assert_eq!(arch.pipeline(), pipeline, "{compatible}");
        assert_eq!(skb::build_for(&arch).map(|b| b.tuned_for()), Some(pipeline), "{compatible}");
    }
}

#[test]
fn the_json_says_which_builds_midr_decides() {
    let json = skb::json::facts(&fixture("tegra186-denver-a57.dtb"));
    assert!(
        json.contains(r#""micro_arch":null,"pipeline":null"#)
            && json.contains(r#""cpu_driver":"decided from MIDR at boot""#),
        "{json}"
    );
    assert!(json.contains(r#""micro_arch":"cortex-a57","pipeline":"out-of-order""#), "{json}");
}

#[test]
fn partial_capacities_are_ignored_and_an_unknown_core_orders_nothing() {
    let path = format!("{}/tests/data/synthetic/partial-capacities.dtb", env!("CARGO_MANIFEST_DIR"));
    let dtb = std::fs::read(path).unwrap();
    let skb = Skb::from_dtb(&dtb).unwrap();
    assert_eq!(skb.cpus.iter().map(|c| c.capacity).collect::<Vec<_>>(), [Some(485), Some(485), None, None]);
    assert_eq!(classes(&skb), [0, 0, 1, 1], "not every core has a capacity: the core table ranks them");
    assert_eq!(builds(&skb), ["cortex-a53", "cortex-a53", "cortex-a72", "cortex-a72"]);
    // The same tree with the Denver enabled (its status rewritten in place, same length).
    let at = dtb.windows(9).position(|w| w == b"disabled\0").unwrap();
    let mut enabled = dtb.clone();
    enabled[at..at + 9].copy_from_slice(b"okay\0\0\0\0\0");
    let skb = Skb::from_dtb(&enabled).unwrap();
    assert_eq!(skb.cpus.len(), 5);
    assert_eq!(classes(&skb), [0; 5], "a core nothing ranks leaves the cores unordered");
    assert_eq!(builds(&skb)[4], "decided from MIDR at boot");
    assert_eq!(
        builds(&skb)[..4],
        ["cortex-a53", "cortex-a53", "cortex-a72", "cortex-a72"],
        "builds unchanged"
    );
}
