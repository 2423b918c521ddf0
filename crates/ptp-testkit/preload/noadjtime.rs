//! `LD_PRELOAD` shim for the netns lab: the clock adjustments linuxptp makes (`clock_adjtime`,
//! `adjtimex`, `ntp_adjtime` with any mode set, `clock_settime`, `settimeofday`) succeed without
//! reaching the kernel; reads (`modes == 0`) go through. The lab's ptp4l and phc2sys then run their
//! servos as on a real node (linuxptp 4.x resets its servo when an adjustment fails, so without
//! CAP_SYS_TIME alone its ports never leave UNCALIBRATED) while this machine's clock is never
//! touched. The processes still run without CAP_SYS_TIME: a call that bypassed the shim would fail.
//!
//! Not part of the workspace: `ptp_testkit::linuxptp::no_adjtime` compiles it with `rustc` into a
//! cache and returns the library's path. Linux on x86_64 and aarch64.

#![allow(unsafe_code)]

use std::os::raw::{c_int, c_long, c_void};

#[cfg(target_arch = "x86_64")]
const SYS_ADJTIMEX: c_long = 159;
#[cfg(target_arch = "x86_64")]
const SYS_CLOCK_ADJTIME: c_long = 305;
#[cfg(target_arch = "aarch64")]
const SYS_ADJTIMEX: c_long = 171;
#[cfg(target_arch = "aarch64")]
const SYS_CLOCK_ADJTIME: c_long = 266;

/// `TIME_OK`: what the kernel answers a successful adjustment of a synchronised clock.
const TIME_OK: c_int = 0;

extern "C" {
    fn syscall(number: c_long, ...) -> c_long;
}

/// `struct timex` begins with `unsigned int modes`; nothing else is read here.
///
/// SAFETY (for callers): `tx` points to a `struct timex`, as the C prototypes require.
unsafe fn modes(tx: *const c_void) -> u32 {
    if tx.is_null() {
        return 0;
    }
    // SAFETY: a non-null `struct timex *` from the caller; `modes` is its first field.
    unsafe { *(tx as *const u32) }
}

#[no_mangle]
pub extern "C" fn clock_adjtime(clock: c_int, tx: *mut c_void) -> c_int {
    // SAFETY: `tx` is the caller's `struct timex *` (C prototype of clock_adjtime).
    if unsafe { modes(tx) } == 0 {
        // SAFETY: the real system call with the caller's arguments.
        return unsafe { syscall(SYS_CLOCK_ADJTIME, clock as c_long, tx) } as c_int;
    }
    TIME_OK
}

#[no_mangle]
pub extern "C" fn adjtimex(tx: *mut c_void) -> c_int {
    // SAFETY: `tx` is the caller's `struct timex *` (C prototype of adjtimex).
    if unsafe { modes(tx) } == 0 {
        // SAFETY: the real system call with the caller's argument.
        return unsafe { syscall(SYS_ADJTIMEX, tx) } as c_int;
    }
    TIME_OK
}

#[no_mangle]
pub extern "C" fn ntp_adjtime(tx: *mut c_void) -> c_int {
    adjtimex(tx)
}

#[no_mangle]
pub extern "C" fn clock_settime(_clock: c_int, _tp: *const c_void) -> c_int {
    0
}

#[no_mangle]
pub extern "C" fn settimeofday(_tv: *const c_void, _tz: *const c_void) -> c_int {
    0
}
