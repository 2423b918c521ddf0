//! `scripts/fuzz.sh 60 options`: splitting an `*Opts` string and the
//! owned-options check on any text must return, never panic; what splits quotes back to the same
//! arguments; every conflict names an option the program's getopt really sees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_api::options::getopt::{Opt, scan};
use ptp_api::options::{Program, check_options, join, split_options};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(args) = split_options(&text) else { return };
    assert_eq!(split_options(&join(&args)).ok().as_ref(), Some(&args), "join does not split back");
    for program in Program::ALL {
        let opts = scan(&args, program.optstring());
        let conflicts = check_options(program, &args);
        let shorts_f = opts.iter().filter(|o| matches!(o, Opt::Short { flag: 'f', .. })).count();
        assert_eq!(conflicts.iter().filter(|c| c.owned == "-f").count(), shorts_f);
        assert!(conflicts.len() <= opts.len());
        for conflict in &conflicts {
            assert!(!conflict.to_string().is_empty());
        }
        // The agent's arguments first, the profile's after: the profile cannot swallow them.
        let mut argv = vec!["-f".to_string(), "/var/run/x.config".to_string()];
        argv.extend(args.iter().cloned());
        assert_eq!(scan(&argv, program.optstring()).first(), Some(&Opt::Short { flag: 'f', value: Some("/var/run/x.config"), word: "-f" }));
    }
});
