//! Which build of the CPU driver this is: the core class it was compiled for and the name the
//! packer checks. A leaf: it uses nothing else in the kernel.

/// The micro-architecture this build was compiled for.
pub const BUILD_TARGET_CPU: &str = if cfg!(cpu_driver_build = "cortex-a53") {
    "cortex-a53"
} else if cfg!(cpu_driver_build = "cortex-a72") {
    "cortex-a72"
} else {
    "generic"
};

/// The build's name where the packer (`mkbootimage`) reads it: it refuses to pack this ELF as
/// any other build, so a stale or mixed-up artifact cannot boot under the wrong name.
#[no_mangle]
#[used]
static CPU_DRIVER_BUILD: [u8; 16] = build_name_field(BUILD_TARGET_CPU);

/// `name` NUL-padded to the 16 bytes of a payload-table name.
const fn build_name_field(name: &str) -> [u8; 16] {
    let mut field = [0u8; 16];
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < field.len() {
        field[i] = bytes[i];
        i += 1;
    }
    field
}

/// The class name of a build number as the boot record and `CoreUp` carry it (0 little, 1 big).
pub fn class_name(build: u64) -> &'static str {
    if build == 0 {
        "little"
    } else {
        "big"
    }
}
