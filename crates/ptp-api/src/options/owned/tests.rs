use super::*;
use crate::options::split_options;

/// The owned option or key each spelling is refused for (`None`: accepted).
fn refused(program: Program, opts: &str) -> Vec<&'static str> {
    check_options(program, &split_options(opts).unwrap()).into_iter().map(|c| c.owned).collect()
}

fn conf_refused(program: Program, text: &str) -> Vec<&'static str> {
    check_conf(program, &Ptp4lConf::parse(text).unwrap()).into_iter().map(|c| c.owned).collect()
}

const ALL: [Program; 5] = Program::ALL;
use Program::{Phc2sys, Ptp4l, Ts2phc};

#[test]
fn every_spelling_of_f_is_refused_for_every_program() {
    for program in ALL {
        for opts in [
            "-f /etc/shadow",
            "-f/etc/shadow",
            "-2 -f x",
            "-f",
            "-- -m -f x -- ",
            "operand -f x",
            "-f -m",
            "-f=x",
            "'-f' x",
            "\"-f\"x",
        ] {
            let expected: Vec<&str> = if opts.starts_with("-- ") { vec![] } else { vec!["-f"] };
            assert_eq!(refused(program, opts), expected, "{program:?} {opts:?}");
        }
    }
    // Bundled after flags the program knows.
    assert_eq!(refused(Ptp4l, "-2mf file"), vec!["-f"]);
    assert_eq!(refused(Ptp4l, "-2mffile"), vec!["-f"]);
    assert_eq!(refused(Ptp4l, "-SsqAf x"), vec!["-f"]);
    assert_eq!(refused(Phc2sys, "-arf x"), vec!["-f"]);
    assert_eq!(refused(Phc2sys, "-mqwxf x"), vec!["-f"]);
    assert_eq!(refused(Ts2phc, "-mqf x"), vec!["-f"]);
    assert_eq!(refused(Ts2phc, "-af x"), vec!["-f"], "-a of ts2phc 4.x");
}

#[test]
fn an_f_inside_another_options_value_is_not_an_option() {
    for (program, opts) in [
        (Ptp4l, "-i -f"),
        (Ptp4l, "-i-f"),
        (Ptp4l, "-l -f"),
        (Ptp4l, "-p-f"),
        (Ptp4l, "--summary_interval -f"),
        (Ptp4l, "--summary_interval=-4 -2"),
        (Phc2sys, "-s -f -c x"),
        (Phc2sys, "-sf"),
        (Phc2sys, "-O -f"),
        (Phc2sys, "-z/f -n 24"),
        (Phc2sys, "-D -f"),
        (Ts2phc, "-s -f"),
        (Ts2phc, "-c-f"),
        (Ts2phc, "-i -f"),
        (Ts2phc, "-l -f"),
        (Ptp4l, "- f"),
        (Ptp4l, "x-f"),
    ] {
        assert_eq!(refused(program, opts), Vec::<&str>::new(), "{program:?} {opts:?}");
    }
}

#[test]
fn owned_keys_as_long_options_in_every_spelling() {
    let spellings = |key: &str| {
        let prefix = &key[..key.len() - 2];
        vec![
            format!("--{key}=/tmp/x"),
            format!("--{key} /tmp/x"),
            format!("-2 --{key}=x -m"),
            format!("--{key}="),
            format!("--{key}"),
            format!("--{prefix}=/tmp/x"),
            format!("--{prefix} x"),
            format!("'--{key}=a b'"),
        ]
    };
    let cases: [(Program, &[&str]); 3] = [
        (Ptp4l, &["message_tag", "uds_address", "uds_ro_address", "verbose"]),
        (Phc2sys, &["message_tag", "verbose"]),
        (Ts2phc, &["message_tag", "verbose"]),
    ];
    for (program, keys) in cases {
        for key in keys {
            for opts in spellings(key) {
                assert_eq!(refused(program, &opts), vec![*key], "{program:?} {opts:?}");
            }
        }
    }
    // Prefixes shared by several keys: the first owned key is named.
    assert_eq!(refused(Ptp4l, "--uds=/tmp/x"), vec!["uds_address"]);
    assert_eq!(refused(Ptp4l, "--uds_r=/tmp/x"), vec!["uds_ro_address"]);
    assert_eq!(refused(Ptp4l, "--u=1"), vec!["uds_address"], "3.1 reads --u as udp_ttl, 4.x calls it ambiguous");
    assert_eq!(refused(Ptp4l, "--=1"), vec!["message_tag"]);
    assert_eq!(refused(Ptp4l, "--message=x"), vec!["message_tag"]);
    assert_eq!(refused(Ts2phc, "--v=0"), vec!["verbose"]);
}

#[test]
fn phc2sys_t_is_its_message_tag_and_z_is_its_own() {
    for opts in ["-t x", "-t'[x y]'", "-t[x]", "-mt x", "-art x", "-a -r -t ''"] {
        assert_eq!(refused(Phc2sys, opts), vec!["message_tag"], "{opts:?}");
    }
    for opts in ["-z /run/other.socket", "-z/run/o", "--uds_address=/run/o", "--uds /run/o", "-s -t"] {
        assert_eq!(refused(Phc2sys, opts), Vec::<&str>::new(), "{opts:?}");
    }
    // ptp4l and ts2phc have no -t/-z: an unknown flag, which makes them exit.
    assert_eq!(refused(Ptp4l, "-t x -z y"), Vec::<&str>::new());
    assert_eq!(refused(Ts2phc, "--uds_address=/run/ptp4l.0.socket -a"), Vec::<&str>::new(), "ts2phc -a client");
}

#[test]
fn options_the_agent_does_not_own_are_accepted() {
    for (program, opts) in [
        (Ptp4l, "-2 -s --summary_interval -4 -m -q"),
        (Ptp4l, "-i eth0 -i eth1 -p /dev/ptp0 -l 7 -S -H -L -A -E -P -4 -6"),
        (Ptp4l, "--step_threshold=1.0 --clock_servo pi --use_syslog 0 --logging_level=6"),
        (Ptp4l, "--tx_timestamp_timeout 50 --slave_event_monitor=/run/x"),
        (Phc2sys, "-a -r -r -n 24 -m -q -u 0 -N 8 -R 16 -s ens2f0 -c CLOCK_REALTIME -O 0 -w -x -l 7 -D 1"),
        (Phc2sys, "-E linreg -P 0.7 -I 0.3 -S 0.1 -F 0.00002 -L 200000000 -M 0 -d /dev/pps0 -i eth0"),
        (Ts2phc, "-a -c eth0 -s generic -l 7 -m -q"),
        (Ts2phc, "-s nmea --ts2phc.nmea_serialport /dev/gnss0"),
    ] {
        assert_eq!(refused(program, opts), Vec::<&str>::new(), "{program:?} {opts:?}");
    }
}

#[test]
fn several_conflicts_are_all_listed_in_order() {
    assert_eq!(
        refused(Ptp4l, "-f a --uds_address=b -2 --message_tag c --verbose=0 -mfd"),
        vec!["-f", "uds_address", "message_tag", "verbose", "-f"]
    );
}

#[test]
fn conflicts_name_field_spelling_and_reason() {
    let message = |program, opts| check_options(program, &split_options(opts).unwrap())[0].to_string();
    assert_eq!(
        message(Ptp4l, "--uds_address=/tmp/x"),
        "ptp4lOpts: `--uds_address=/tmp/x` sets uds_address, which the agent owns: ptp4l replaces that path with \
         its management socket and deletes it when it stops; the agent uses <run-dir>/ptp4l.<id>.socket, where \
         phc2sys and pmc find it"
    );
    assert_eq!(
        message(Ptp4l, "-2mf /etc/shadow"),
        "ptp4lOpts: `-f` in `-2mf` sets -f, which the agent owns: the agent passes -f with the file it writes \
         from ptp4lConf (put settings there)"
    );
    assert!(message(Phc2sys, "-f x").starts_with("phc2sysOpts: `-f` sets -f, "), "phc2sysConf named");
    assert!(message(Phc2sys, "-f x").contains("from phc2sysConf"));
    assert_eq!(
        message(Phc2sys, "-t '[x]'"),
        "phc2sysOpts: `-t` sets message_tag, which the agent owns: the agent tags phc2sys's lines with \
         [ptp4l.<id>.config] to tie them to the profile's metrics and status"
    );
    assert!(message(Ts2phc, "--message_tag x").contains("[ts2phc.<id>.config]"));
    assert!(message(Ptp4l, "--uds=/x").starts_with("ptp4lOpts: `--uds=/x` (getopt reads a prefix as --uds_address)"));
    assert!(message(Ptp4l, "--verbose=0").ends_with("the agent passes -m and reads ptp4l's output for its metrics"));
    assert!(message(Ptp4l, "--uds_ro_address=/x").contains("read-only management socket"));
}

#[test]
fn conf_keys_the_agent_overwrites_in_global_are_accepted_there_and_refused_elsewhere() {
    let global = "[global]\nmessage_tag [ptp4l.0.config:{level}]\nuds_address /tmp/x\nverbose 0\n";
    assert_eq!(conf_refused(Ptp4l, global), Vec::<&str>::new());
    assert_eq!(conf_refused(Ptp4l, &global.replace("[global]", "[GLOBAL]")), Vec::<&str>::new());
    assert_eq!(conf_refused(Phc2sys, global), Vec::<&str>::new(), "-z/-t/-m on the command line win");
    assert_eq!(conf_refused(Ts2phc, global), Vec::<&str>::new());
    for program in [Ptp4l, Phc2sys, Ts2phc] {
        for key in ["message_tag", "verbose"] {
            let text = format!("[global]\n[eth0]\n{key} 1\n");
            assert_eq!(conf_refused(program, &text), vec![key], "{program:?} {key}");
            let text = format!("[unicast_master_table]\n{key} 1\n");
            assert_eq!(conf_refused(program, &text), vec![key], "{program:?} {key}");
        }
    }
    assert_eq!(conf_refused(Ptp4l, "[eth0]\nuds_address /tmp/x\n"), vec!["uds_address"]);
    assert_eq!(conf_refused(Phc2sys, "[eth0]\nuds_address /tmp/x\n"), Vec::<&str>::new(), "phc2sys: a client");
    assert_eq!(conf_refused(Ts2phc, "[global]\nuds_address /run/ptp4l.0.socket\n"), Vec::<&str>::new());
}

#[test]
fn uds_ro_address_is_refused_in_any_section_of_ptp4l_conf() {
    for text in [
        "[global]\nuds_ro_address /tmp/x\n",
        "[eth0]\nuds_ro_address /tmp/x\n",
        "[global]\n[Global]\nuds_ro_address /x\n",
    ] {
        assert_eq!(conf_refused(Ptp4l, text), vec!["uds_ro_address"], "{text:?}");
    }
    let conflicts = check_conf(Ptp4l, &Ptp4lConf::parse("[eth0]\nuds_ro_address /tmp/x\n").unwrap());
    assert_eq!(
        conflicts[0].to_string(),
        "ptp4lConf: `uds_ro_address` in [eth0] sets uds_ro_address, which the agent owns: ptp4l (4.x) replaces \
         that path with its read-only management socket and deletes it when it stops"
    );
}

#[test]
fn conf_keys_match_exactly_as_linuxptp_does() {
    // linuxptp's keys are case-sensitive and not abbreviated in files: these are unknown keys
    // (ptp4l refuses the file), not owned ones.
    assert_eq!(conf_refused(Ptp4l, "[eth0]\nUDS_ADDRESS /x\nuds /x\nmessage_tag_x 1\n"), Vec::<&str>::new());
    assert_eq!(conf_refused(Ptp4l, "[eth0]\n#uds_address /x\n"), Vec::<&str>::new());
}

#[test]
fn chronyd_and_timemaster_own_only_f() {
    for program in [Program::Chronyd, Program::Timemaster] {
        assert_eq!(refused(program, "-x -d -u root -m -q -l /tmp/log"), Vec::<&str>::new(), "{program:?}");
        assert_eq!(refused(program, "-xf /etc/chrony.conf"), vec!["-f"], "{program:?}");
        assert_eq!(refused(program, "-f x"), vec!["-f"], "{program:?}");
    }
    let conf = Ptp4lConf::parse("[global]\nmessage_tag x\n[eth0]\nverbose 1\n").unwrap();
    assert!(check_conf(Program::Timemaster, &conf).is_empty());
}

#[test]
fn timemaster_ptp4l_options_keep_what_the_agent_owns() {
    let refused = |text: &str| -> Vec<&'static str> {
        check_timemaster_conf(&TimemasterConf::parse(text).unwrap()).into_iter().map(|c| c.owned).collect()
    };
    assert_eq!(refused("[ptp4l]\noptions -l 6 -q\n[ptp4l.conf]\nmessage_tag x\nuds_address /x\n"), Vec::<&str>::new());
    assert_eq!(refused("[ptp4l]\noptions --message_tag=[x]\n"), vec!["message_tag"]);
    assert_eq!(refused("[ptp4l]\noptions -f /x --uds=/y --verbose 1\n"), vec!["-f", "uds_address", "verbose"]);
    assert_eq!(
        refused("[ptp4l]\noptions --uds_ro_address /y\n[ptp4l]\npath /usr/sbin/ptp4l\n"),
        vec!["uds_ro_address"]
    );
    let conflict =
        &check_timemaster_conf(&TimemasterConf::parse("[ptp4l]\noptions -2 --message_tag [x]\n").unwrap())[0];
    assert_eq!(conflict.field, "timemasterConf");
    assert_eq!(
        conflict.to_string(),
        "timemasterConf: `--message_tag` in [ptp4l] options sets message_tag, which the agent owns: the agent tags \
         ptp4l's lines with [ptp4l.<id>.config] to tie them to the profile's metrics and status"
    );
}
