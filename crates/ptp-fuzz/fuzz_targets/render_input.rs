//! `scripts/fuzz.sh 60 render_input`: the YAML/JSON that
//! `ptp-operator render` reads (several documents, `List` kinds) through the input reader and the
//! render engine must return, never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptp_operator::input::{Inputs, add_text};
use ptp_operator::render::render;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut inputs = Inputs::default();
    if add_text(&mut inputs, Path::new("fuzz.yaml"), text).is_err() {
        return;
    }
    let output = render(&inputs.configs, &inputs.nodes);
    let _ = output.data_bytes();
});
