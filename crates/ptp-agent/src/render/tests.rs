use super::*;

const RUN: &str = "/var/run";

fn profile(configure: impl FnOnce(&mut PtpProfile)) -> PtpProfile {
    let mut p = PtpProfile::named("p");
    configure(&mut p);
    p
}

fn render(p: &PtpProfile) -> RunPlan {
    render_profile(p, 3, Path::new(RUN)).unwrap()
}

fn render_err(p: &PtpProfile) -> String {
    match render_profile(p, 3, Path::new(RUN)) {
        Err(e @ Error::Profile { .. }) => e.to_string(),
        other => panic!("expected a profile error, got {other:?}"),
    }
}

fn names(r: &RunPlan) -> Vec<&str> {
    r.processes.iter().map(|p| p.program.name()).collect()
}

fn process<'a>(r: &'a RunPlan, name: &str) -> &'a ProcessPlan {
    r.processes.iter().find(|p| p.program.name() == name).unwrap()
}

fn file<'a>(r: &'a RunPlan, path: &str) -> &'a str {
    r.files.iter().find(|(p, _)| p == Path::new(path)).map(|(_, c)| c.as_str()).unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(std::string::ToString::to_string).collect()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

#[test]
fn absent_ptp4l_opts_runs_ptp4l_and_empty_string_does_not() {
    let r = render(&PtpProfile::named("p"));
    assert_eq!(names(&r), vec![PTP4L]);
    assert_eq!(process(&r, PTP4L).args, strings(&["-f", "/var/run/ptp4l.3.config", "-m"]));
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.profile, "p");
    assert_eq!(r.run_id, 3);

    let r = render(&profile(|p| p.ptp4l_opts = s("")));
    assert!(r.processes.is_empty() && r.files.is_empty(), "{r:?}");
}

#[test]
fn whitespace_ptp4l_opts_runs_ptp4l_without_extra_arguments() {
    let r = render(&profile(|p| p.ptp4l_opts = s("  \t ")));
    assert_eq!(process(&r, PTP4L).args, strings(&["-f", "/var/run/ptp4l.3.config", "-m"]));
}

#[test]
fn phc2sys_and_ts2phc_run_only_with_non_empty_options() {
    for opts in [None, s("")] {
        let r = render(&profile(|p| {
            p.phc2sys_opts = opts.clone();
            p.ts2phc_opts = opts.clone();
            p.phc2sys_conf = s("[global]\n");
            p.ts2phc_conf = s("[global]\n");
        }));
        assert_eq!(names(&r), vec![PTP4L], "{opts:?}");
        assert_eq!(r.files.len(), 1, "{opts:?}");
    }
    let r = render(&profile(|p| {
        p.phc2sys_opts = s("-a -r");
        p.ts2phc_opts = s(" ");
    }));
    assert_eq!(names(&r), vec![TS2PHC, PTP4L, PHC2SYS]);
}

#[test]
fn options_are_split_like_a_shell_and_appended_after_the_agents_arguments() {
    let r = render(&profile(|p| p.ptp4l_opts = s(r#"  -2   -s --summary_interval "-4"  -i 'ens1f0' "#)));
    assert_eq!(
        process(&r, PTP4L).args,
        strings(&["-f", "/var/run/ptp4l.3.config", "-m", "-2", "-s", "--summary_interval", "-4", "-i", "ens1f0"])
    );
}

#[test]
fn unterminated_quotes_name_the_profile_and_field() {
    let e = render_err(&profile(|p| p.ptp4l_opts = s("-2 '-s")));
    assert_eq!(e, "profile p: ptp4lOpts: unterminated single quote (') at character 4");
    let e = render_err(&profile(|p| p.phc2sys_opts = s("-a \"-r")));
    assert!(e.starts_with("profile p: phc2sysOpts: unterminated double quote"), "{e}");
    let e = render_err(&profile(|p| p.ts2phc_opts = s("-s\\")));
    assert!(e.starts_with("profile p: ts2phcOpts: trailing backslash"), "{e}");
}

#[test]
fn options_of_a_process_that_does_not_run_are_not_checked() {
    let r = render(&profile(|p| {
        p.ptp4l_opts = s("");
        p.ptp4l_conf = s("not a conf");
    }));
    assert!(r.processes.is_empty());
}

#[test]
fn ptp4l_conf_gets_tag_socket_and_interface_section() {
    let r = render(&profile(|p| {
        p.interface = s("ens1f0");
        p.ptp4l_conf = s("[global]\ndomainNumber 24\nmessage_tag mine\nuds_address /tmp/x\n");
    }));
    assert_eq!(
        file(&r, "/var/run/ptp4l.3.config"),
        "[global]\ndomainNumber 24\nmessage_tag [ptp4l.3.config]\nuds_address /var/run/ptp4l.3.socket\n[ens1f0]\n"
    );
    assert_eq!(process(&r, PTP4L).config_file.as_deref(), Some(Path::new("/var/run/ptp4l.3.config")));
}

#[test]
fn absent_ptp4l_conf_starts_from_global() {
    let r = render(&profile(|p| p.interface = s("eth0")));
    assert_eq!(
        file(&r, "/var/run/ptp4l.3.config"),
        "[global]\nmessage_tag [ptp4l.3.config]\nuds_address /var/run/ptp4l.3.socket\n[eth0]\n"
    );
}

#[test]
fn conf_without_global_gets_it_first_and_existing_interface_section_is_kept() {
    let r = render(&profile(|p| {
        p.interface = s("eth0");
        p.ptp4l_conf = s("# c\n[eth0]\nmasterOnly 1\n[eth1]\n");
    }));
    assert_eq!(
        file(&r, "/var/run/ptp4l.3.config"),
        "# c\n[global]\nmessage_tag [ptp4l.3.config]\nuds_address /var/run/ptp4l.3.socket\n[eth0]\nmasterOnly 1\n[eth1]\n"
    );
    assert_eq!(r.ptp4l_ports, ["eth0", "eth1"], "ptp4l's ports in section order, for its port numbers");
    let only_phc2sys = render(&profile(|p| {
        p.ptp4l_opts = s("");
        p.phc2sys_opts = s("-a -r");
    }));
    assert!(only_phc2sys.ptp4l_ports.is_empty());
}

#[test]
fn empty_interface_adds_no_section_and_bad_interface_is_an_error() {
    let r = render(&profile(|p| p.interface = s("")));
    assert!(!file(&r, "/var/run/ptp4l.3.config").contains("[]"));
    let e = render_err(&profile(|p| p.interface = s("eth0 eth1")));
    assert_eq!(e, "profile p: interface \"eth0 eth1\" is not a valid interface name");
    // Not checked when ptp4l does not run.
    render(&profile(|p| {
        p.interface = s("a]b");
        p.ptp4l_opts = s("");
    }));
}

#[test]
fn interface_in_ptp4l_opts_is_kept() {
    let r = render(&profile(|p| {
        p.interface = s("eth0");
        p.ptp4l_opts = s("-i eth0");
    }));
    assert!(process(&r, PTP4L).args.ends_with(&strings(&["-i", "eth0"])));
    assert!(file(&r, "/var/run/ptp4l.3.config").ends_with("[eth0]\n"));
}

#[test]
fn invalid_confs_are_refused_naming_profile_field_and_line() {
    let e = render_err(&profile(|p| p.ptp4l_conf = s("[global]\ndomainNumber 24\nslaveOnly\n")));
    assert_eq!(e, "profile p: ptp4lConf line 3: option `slaveOnly` has no value");
    let e = render_err(&profile(|p| {
        p.phc2sys_opts = s("-a");
        p.phc2sys_conf = s("x 1\n");
    }));
    assert!(e.starts_with("profile p: phc2sysConf line 1: "), "{e}");
    let e = render_err(&profile(|p| {
        p.ts2phc_opts = s("-s generic");
        p.ts2phc_conf = s("[global\n");
    }));
    assert!(e.starts_with("profile p: ts2phcConf line 1: "), "{e}");
}

#[test]
fn phc2sys_talks_to_the_ptp4l_socket_with_the_ptp4l_tag() {
    let r = render(&profile(|p| p.phc2sys_opts = s("-a -r -n 24")));
    let plan = process(&r, PHC2SYS);
    assert_eq!(
        plan.args,
        strings(&["-z", "/var/run/ptp4l.3.socket", "-t", "[ptp4l.3.config]", "-m", "-a", "-r", "-n", "24"])
    );
    assert_eq!(plan.config_file, None);
    assert_eq!(plan.program.name(), "phc2sys");
}

#[test]
fn phc2sys_conf_is_written_and_passed_with_f() {
    let r = render(&profile(|p| {
        p.phc2sys_opts = s("-a -r");
        p.phc2sys_conf = s("[global]\nfirst_step_threshold 0.00002\n");
    }));
    let plan = process(&r, PHC2SYS);
    assert_eq!(&plan.args[..2], &strings(&["-f", "/var/run/phc2sys.3.config"]));
    assert_eq!(plan.config_file.as_deref(), Some(Path::new("/var/run/phc2sys.3.config")));
    assert_eq!(file(&r, "/var/run/phc2sys.3.config"), "[global]\nfirst_step_threshold 0.00002\n");
}

#[test]
fn phc2sys_z_given_by_the_profile_is_not_repeated() {
    let r = render(&profile(|p| p.phc2sys_opts = s("-a -r -z /run/other.socket -mq")));
    assert_eq!(
        process(&r, PHC2SYS).args,
        strings(&["-t", "[ptp4l.3.config]", "-a", "-r", "-z", "/run/other.socket", "-mq"])
    );
    let r = render(&profile(|p| p.phc2sys_opts = s("-z/run/o -m")));
    assert_eq!(process(&r, PHC2SYS).args, strings(&["-t", "[ptp4l.3.config]", "-z/run/o", "-m"]));
    let r = render(&profile(|p| p.phc2sys_opts = s("--uds=/run/o")));
    assert_eq!(process(&r, PHC2SYS).args, strings(&["-t", "[ptp4l.3.config]", "-m", "--uds=/run/o"]));
}

#[test]
fn option_values_that_look_like_flags_are_not_flags() {
    // `-s -m` hands `-m` to -s as its value; `-n 24` etc. do not hide later options.
    let gives = |args: &[&str], program, flag| gives(&strings(args), program, flag, None);
    assert!(!gives(&["-s", "-m"], Program::Phc2sys, 'm'));
    assert!(!gives(&["-s-m"], Program::Phc2sys, 'm'));
    assert!(gives(&["-n", "24", "-m"], Program::Phc2sys, 'm'));
    assert!(gives(&["-arm"], Program::Phc2sys, 'm'));
    assert!(!gives(&["-O", "-z"], Program::Phc2sys, 'z'));
    assert!(!gives(&["--", "-m"], Program::Ptp4l, 'm'));
    assert!(!gives(&["--summary_interval", "-m"], Program::Ptp4l, 'm'));
    assert!(gives(&["--summary_interval=1", "-m"], Program::Ptp4l, 'm'));
    assert!(gives(&["operand", "-m"], Program::Ptp4l, 'm'));
    assert!(!gives(&["-", "m"], Program::Ptp4l, 'm'));
    assert!(!gives(&[], Program::Ptp4l, 'm'));
    assert!(super::gives(&strings(&["--uds_address", "x"]), Program::Phc2sys, 'z', Some("uds_address")));
    assert!(!super::gives(&strings(&["--=x"]), Program::Phc2sys, 'z', Some("uds_address")));
}

#[test]
fn options_that_override_what_the_agent_owns_refuse_the_profile() {
    let e = render_err(&profile(|p| p.ptp4l_opts = s("-2 --uds_address=/tmp/x")));
    assert!(
        e.starts_with("profile p: ptp4lOpts: `--uds_address=/tmp/x` sets uds_address, which the agent owns: "),
        "{e}"
    );
    let e = render_err(&profile(|p| p.ptp4l_opts = s("-2mf /etc/shadow")));
    assert!(e.starts_with("profile p: ptp4lOpts: `-f` in `-2mf` sets -f"), "{e}");
    let e = render_err(&profile(|p| p.phc2sys_opts = s("-a -r -t '[x]'")));
    assert!(e.starts_with("profile p: phc2sysOpts: `-t` sets message_tag"), "{e}");
    let e = render_err(&profile(|p| p.ts2phc_opts = s("-s generic --message_tag=x --verbose 0")));
    assert!(e.starts_with("profile p: ts2phcOpts: `--message_tag=x` sets message_tag"), "{e}");
    assert!(e.contains("; ts2phcOpts: `--verbose` sets verbose"), "every conflict listed: {e}");
    // Not checked when the program does not run.
    render(&profile(|p| {
        p.ptp4l_opts = s("");
        p.ptp4l_conf = s("[global]\nuds_ro_address /x\n");
        p.ts2phc_conf = s("[eth0]\nmessage_tag x\n");
    }));
}

#[test]
fn conf_keys_that_override_what_the_agent_owns_refuse_the_profile() {
    let e = render_err(&profile(|p| p.ptp4l_conf = s("[global]\n[eth0]\nuds_address /tmp/x\n")));
    assert!(e.starts_with("profile p: ptp4lConf: `uds_address` in [eth0] sets uds_address"), "{e}");
    let e = render_err(&profile(|p| p.ptp4l_conf = s("[global]\nuds_ro_address /tmp/x\n")));
    assert!(e.starts_with("profile p: ptp4lConf: `uds_ro_address` in [global] sets uds_ro_address"), "{e}");
    let e = render_err(&profile(|p| {
        p.phc2sys_opts = s("-a");
        p.phc2sys_conf = s("[global]\n[eth0]\nmessage_tag x\n");
    }));
    assert!(e.starts_with("profile p: phc2sysConf: `message_tag` in [eth0]"), "{e}");
}

#[test]
fn a_later_global_section_cannot_take_the_socket_or_tag_back() {
    // linuxptp reads every [global] in turn, so the agent's values must be the only ones.
    let r = render(&profile(|p| {
        p.ptp4l_conf = s("[global]\n[eth0]\n[global]\nuds_address /tmp/x\nmessage_tag [y]\n");
        p.ts2phc_opts = s(" ");
        p.ts2phc_conf = s("[global]\n[GLOBAL]\nmessage_tag [y]\n");
    }));
    assert_eq!(
        file(&r, "/var/run/ptp4l.3.config"),
        "[global]\nmessage_tag [ptp4l.3.config]\nuds_address /var/run/ptp4l.3.socket\n[eth0]\n[global]\n"
    );
    assert_eq!(file(&r, "/var/run/ts2phc.3.config"), "[global]\nmessage_tag [ts2phc.3.config]\n[GLOBAL]\n");
}

#[test]
fn ptp4l_and_ts2phc_do_not_repeat_m() {
    let r = render(&profile(|p| {
        p.ptp4l_opts = s("-2 -m");
        p.ts2phc_opts = s("-qm -s generic");
    }));
    assert_eq!(process(&r, PTP4L).args, strings(&["-f", "/var/run/ptp4l.3.config", "-2", "-m"]));
    assert_eq!(process(&r, TS2PHC).args, strings(&["-f", "/var/run/ts2phc.3.config", "-qm", "-s", "generic"]));
}

#[test]
fn ts2phc_always_gets_a_tagged_config() {
    let r = render(&profile(|p| p.ts2phc_opts = s("-s generic -c eth0")));
    assert_eq!(file(&r, "/var/run/ts2phc.3.config"), "[global]\nmessage_tag [ts2phc.3.config]\n");
    let r = render(&profile(|p| {
        p.ts2phc_opts = s(" ");
        p.ts2phc_conf = s("[global]\nmessage_tag old\nleapfile /x\n[ens2f0]\nts2phc.extts_polarity rising\n");
    }));
    assert_eq!(
        file(&r, "/var/run/ts2phc.3.config"),
        "[global]\nmessage_tag [ts2phc.3.config]\nleapfile /x\n[ens2f0]\nts2phc.extts_polarity rising\n"
    );
    assert_eq!(process(&r, TS2PHC).args, strings(&["-f", "/var/run/ts2phc.3.config", "-m"]));
}

#[test]
fn files_and_processes_are_in_start_order() {
    let r = render(&profile(|p| {
        p.ts2phc_opts = s("-s generic");
        p.phc2sys_opts = s("-a");
        p.phc2sys_conf = s("[global]\n");
    }));
    let paths: Vec<_> = r.files.iter().map(|(p, _)| p.to_str().unwrap()).collect();
    assert_eq!(paths, vec!["/var/run/ts2phc.3.config", "/var/run/ptp4l.3.config", "/var/run/phc2sys.3.config"]);
    assert_eq!(names(&r), vec![TS2PHC, PTP4L, PHC2SYS]);
}

#[test]
fn run_dir_and_id_appear_in_every_name() {
    let p = profile(|p| {
        p.ts2phc_opts = s("-s generic");
        p.phc2sys_opts = s("-a");
    });
    let r = render_profile(&p, 12, Path::new("/tmp/lab run")).unwrap();
    assert_eq!(process(&r, TS2PHC).args[1], "/tmp/lab run/ts2phc.12.config");
    assert_eq!(
        process(&r, PHC2SYS).args[..4],
        strings(&["-z", "/tmp/lab run/ptp4l.12.socket", "-t", "[ptp4l.12.config]"])
    );
    assert!(file(&r, "/tmp/lab run/ptp4l.12.config").contains("uds_address /tmp/lab run/ptp4l.12.socket\n"));
    assert_eq!(ptp4l_socket_path(Path::new(DEFAULT_RUN_DIR), 0), Path::new("/var/run/ptp4l.0.socket"));
}

#[cfg(unix)]
#[test]
fn non_utf8_run_dir_is_an_error() {
    use std::os::unix::ffi::OsStrExt;
    let dir = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/\xff"));
    let e = render_profile(&PtpProfile::named("p"), 0, dir).unwrap_err().to_string();
    assert!(e.starts_with("profile p: run directory") && e.contains("UTF-8"), "{e}");
}

#[test]
fn sched_fifo_applies_to_every_process() {
    let r = render(&profile(|p| {
        p.ptp_scheduling_policy = Some(SchedulingPolicy::SchedFifo);
        p.ptp_scheduling_priority = Some(65);
        p.phc2sys_opts = s("-a");
        p.ts2phc_opts = s("-s generic");
    }));
    assert_eq!(r.processes.len(), 3);
    for plan in &r.processes {
        assert_eq!(plan.sched, Some(Sched { fifo: true, priority: 65 }), "{}", plan.program.name());
    }
    let r = render(&profile(|p| {
        p.ptp_scheduling_policy = Some(SchedulingPolicy::SchedFifo);
        p.ptp_scheduling_priority = Some(1);
    }));
    assert_eq!(r.processes[0].sched, Some(Sched { fifo: true, priority: 1 }));
}

#[test]
fn sched_other_or_absent_is_default_scheduling() {
    for policy in [None, Some(SchedulingPolicy::SchedOther)] {
        let r = render(&profile(|p| {
            p.ptp_scheduling_policy = policy;
            p.ptp_scheduling_priority = Some(10);
        }));
        assert_eq!(r.processes[0].sched, None, "{policy:?}");
    }
}

#[test]
fn sched_fifo_needs_a_priority_in_range() {
    let fifo = |priority: Option<i64>| {
        profile(|p| {
            p.ptp_scheduling_policy = Some(SchedulingPolicy::SchedFifo);
            p.ptp_scheduling_priority = priority;
        })
    };
    assert_eq!(
        render_err(&fifo(None)),
        "profile p: ptpSchedulingPolicy SCHED_FIFO needs ptpSchedulingPriority (1..65)"
    );
    for bad in [0, 66, -1, i64::MAX] {
        let e = render_err(&fifo(Some(bad)));
        assert_eq!(e, format!("profile p: ptpSchedulingPriority {bad} is out of range (1..65)"));
    }
}

#[test]
fn display_lists_files_then_processes() {
    let r = render(&profile(|p| {
        p.ptp_scheduling_policy = Some(SchedulingPolicy::SchedFifo);
        p.ptp_scheduling_priority = Some(10);
        p.phc2sys_opts = s("-a");
    }));
    let text = r.to_string();
    assert_eq!(
        text,
        "profile p (run id 3)\n\
         \n=== file /var/run/ptp4l.3.config\n\
         [global]\nmessage_tag [ptp4l.3.config]\nuds_address /var/run/ptp4l.3.socket\n\
         === end of file\n\
         \n=== process ptp4l\nsched: SCHED_FIFO 10\nconfig: /var/run/ptp4l.3.config\n\
         argv: ptp4l -f /var/run/ptp4l.3.config -m\n\
         \n=== process phc2sys\nsched: SCHED_FIFO 10\n\
         argv: phc2sys -z /var/run/ptp4l.3.socket -t '[ptp4l.3.config]' -m -a\n"
    );
}

#[test]
fn the_domain_comes_from_the_options_then_the_global_section_then_zero() {
    let domain = |conf: Option<&str>, opts: &str| {
        render(&profile(|p| {
            p.ptp4l_conf = conf.map(str::to_string);
            p.ptp4l_opts = s(opts);
        }))
        .ptp4l_domain
    };
    assert_eq!(domain(None, "-2"), 0);
    assert_eq!(domain(Some("[global]\ndomainNumber 24\n"), "-2"), 24);
    assert_eq!(domain(Some("[global]\ndomainNumber 24\n"), "--domainNumber 25"), 25, "the command line wins");
    assert_eq!(domain(Some("[global]\ndomainNumber 24\n"), "--domainNumber=26"), 26);
    assert_eq!(domain(Some("[eth0]\n"), ""), 0);
    let e = render_err(&profile(|p| p.ptp4l_conf = s("[global]\ndomainNumber 300\n")));
    assert!(e.contains("domainNumber \"300\""), "{e}");
}

mod versions {
    use super::*;
    use crate::linuxptp::{Linuxptp, Version};

    fn v(major: u32, minor: u32, patch: u32) -> Linuxptp {
        Linuxptp::Known(Version::new(major, minor, patch))
    }

    fn ha(opts: &str, members: &str) -> PtpProfile {
        profile(|p| {
            p.ptp4l_opts = s("");
            p.phc2sys_opts = s(opts);
            p.ptp_settings = Some([("haProfiles".to_string(), members.to_string())].into());
        })
    }

    fn ids() -> RunIds {
        let mut ids = RunIds::new();
        ids.update(["p", "nic1", "nic2"]);
        ids
    }

    fn render_with(p: &PtpProfile, linuxptp: &Linuxptp) -> Result<RunPlan, String> {
        let ids = ids();
        let env = RenderEnv { run_dir: Path::new(RUN), linuxptp, profiles: Some(&ids) };
        super::super::render(p, ids.get("p").unwrap(), &env).map_err(|e| e.to_string())
    }

    #[test]
    fn ha_phc2sys_gets_one_socket_per_member_and_automatic_configuration() {
        let plan = render_with(&ha("-r -n 24 -m", "nic1, nic2"), &v(4, 2, 0)).unwrap();
        let (nic1, nic2) = (ids().get("nic1").unwrap(), ids().get("nic2").unwrap());
        assert_eq!(names(&plan), ["phc2sys"]);
        let expected = format!(
            "-z /var/run/ptp4l.{nic1}.socket -z /var/run/ptp4l.{nic2}.socket -a -t [ptp4l.{}.config] -r -n 24 -m",
            plan.run_id
        );
        assert_eq!(process(&plan, "phc2sys").args.join(" "), expected);
        assert_eq!(plan.ha_profiles, [("nic1".to_string(), nic1), ("nic2".to_string(), nic2)]);
        let one = render_with(&ha("-a -r", "nic1"), &v(4, 2, 0)).unwrap();
        assert_eq!(process(&one, "phc2sys").args.iter().filter(|a| *a == "-a").count(), 1, "-a given: not twice");
        let one = render_with(&ha("-s ens1f0 -r -w", "nic1"), &v(4, 3, 0)).unwrap();
        assert!(!process(&one, "phc2sys").args.contains(&"-a".to_string()), "one member: no -a added");
    }

    #[test]
    fn ha_is_refused_where_it_cannot_run_as_written() {
        let e = render_with(&ha("-r", "nic1,nic2"), &v(3, 1, 1)).unwrap_err();
        assert!(
            e.contains(
                "haProfiles (phc2sys following several ptp4l) needs linuxptp 4.2 or later; this node runs 3.1.1"
            ),
            "{e}"
        );
        let e = render_with(&ha("-r", "nic1,nic2"), &Linuxptp::Unknown("no ptp4l".into())).unwrap_err();
        assert!(e.contains("not known (no ptp4l)"), "{e}");
        let e = render_with(&ha("-r", "nic1,ghost"), &v(4, 2, 0)).unwrap_err();
        assert!(e.contains("haProfiles names \"ghost\", which is not a profile of this node"), "{e}");
        let e = render_with(&ha("-r -z /var/run/other", "nic1"), &v(4, 2, 0)).unwrap_err();
        assert!(e.contains("phc2sysOpts gives -z"), "{e}");
    }

    #[test]
    fn each_ptp4l_has_its_own_read_only_socket_on_4_x_only() {
        let p = profile(|p| p.interface = s("eth0"));
        let on42 = render_with(&p, &v(4, 2, 0)).unwrap();
        let conf = file(&on42, &format!("/var/run/ptp4l.{}.config", on42.run_id)).to_string();
        assert!(conf.contains(&format!("uds_ro_address /var/run/ptp4l.{}.ro.socket", on42.run_id)), "{conf}");
        let on31 = render_with(&p, &v(3, 1, 1)).unwrap();
        let conf = file(&on31, &format!("/var/run/ptp4l.{}.config", on31.run_id)).to_string();
        assert!(!conf.contains("uds_ro_address"), "3.1 refuses the key: {conf}");
    }

    #[test]
    fn a_bad_setting_refuses_the_profile_naming_it() {
        let p = profile(|p| p.ptp_settings = Some([("logReduce".to_string(), "loud".to_string())].into()));
        let e = render_with(&p, &v(4, 2, 0)).unwrap_err();
        assert!(e.contains("ptpSettings.logReduce \"loud\": mode \"loud\""), "{e}");
    }
}

#[test]
fn controlling_profile_names_another_profile_of_the_node_running_ptp4l() {
    use crate::linuxptp::Linuxptp;
    let mut ids = RunIds::new();
    ids.update(["tr", "tt"]);
    let tt = |controller: &str, ptp4l: Option<&str>| PtpProfile {
        ptp4l_opts: ptp4l.map(str::to_string),
        ptp_settings: Some([("controllingProfile".to_string(), controller.to_string())].into()),
        ..PtpProfile::named("tt")
    };
    let unknown = Linuxptp::default();
    let env = RenderEnv { run_dir: Path::new(RUN), linuxptp: &unknown, profiles: Some(&ids) };
    let plan = super::render(&tt("tr", Some("-2")), ids.get("tt").unwrap(), &env).unwrap();
    assert_eq!(plan.controlled_by, Some(("tr".to_string(), ids.get("tr").unwrap())));
    let err = |p: &PtpProfile| super::render(p, 1, &env).unwrap_err().to_string();
    assert!(err(&tt("ghost", None)).contains("\"ghost\", which is not a profile of this node"));
    assert!(err(&tt("tt", None)).contains("names the profile itself"));
    assert!(err(&tt("tr", Some(""))).contains("runs no ptp4l to control"));
}

#[test]
fn chronyd_stays_in_the_foreground() {
    let args = |opts: &str| process(&render(&profile(|p| p.chronyd_opts = s(opts))), "chronyd").args.clone();
    assert_eq!(args("-x"), strings(&["-f", "/var/run/chronyd.3.config", "-d", "-x"]));
    assert_eq!(args("-x -n"), strings(&["-f", "/var/run/chronyd.3.config", "-x", "-n"]), "-n: foreground, syslog");
    assert_eq!(args("-dd"), strings(&["-f", "/var/run/chronyd.3.config", "-dd"]));
    let r = render(&profile(|p| p.chronyd_opts = s(" ")));
    assert_eq!(names(&r), vec!["ptp4l", "chronyd"], "after the PTP processes, as the Go daemon");
    assert_eq!(file(&r, "/var/run/chronyd.3.config"), "", "no chronydConf: an empty file");
    assert!(!render(&profile(|p| p.chronyd_opts = s(""))).runs(Program::Chronyd));
    assert!(!render(&profile(|p| p.chronyd_conf = s("server x"))).runs(Program::Chronyd), "absent opts: not run");
    let e = render_err(&profile(|p| p.chronyd_opts = s("-x -f /etc/chrony/chrony.conf")));
    assert!(e.contains("chronydOpts: `-f` sets -f, which the agent owns"), "{e}");
}

#[test]
fn timemaster_gets_the_profile_interface_and_the_agent_settings() {
    let tm = |conf: &str| {
        profile(|p| {
            p.ptp4l_opts = s("");
            p.interface = s("eth9");
            p.timemaster_opts = s("-q");
            p.timemaster_conf = s(conf);
        })
    };
    let r = render(&tm("[ptp_domain 1]\n\n[ptp_domain 2]\ninterfaces eth1\n"));
    assert_eq!(names(&r), vec!["timemaster"]);
    assert_eq!(process(&r, "timemaster").args, strings(&["-f", "/var/run/timemaster.3.config", "-m", "-q"]));
    let text = file(&r, "/var/run/timemaster.3.config");
    assert!(text.starts_with("[ptp_domain 1]\ninterfaces eth9\n\n[ptp_domain 2]\ninterfaces eth1\n"), "{text}");
    assert!(text.ends_with("rundir /var/run/timemaster.3\n[ptp4l]\n# ptp-agent: read last, these settings win\noptions -l 6 -m --message_tag=[ptp4l.3.config]\n"), "{text}");
    assert!(r.ptp4l_ports.is_empty());
    let conf = ptp_api::timemaster_conf::TimemasterConf::parse(text).unwrap();
    assert_eq!(conf.get("timemaster", "rundir"), Some("/var/run/timemaster.3"));
    // `-m` given by the profile's [ptp4l] options is not repeated; the tag always follows.
    let text = render(&tm("[ptp4l]\noptions -m -l 7\n[ptp_domain 0]\ninterfaces eth0\n")).files[0].1.clone();
    assert!(text.ends_with("options -m -l 7 --message_tag=[ptp4l.3.config]\n"), "{text}");
    // No [ptp_domain] at all: one for the profile's interface; no interface: none (NTP only).
    assert!(render(&tm("[ntp_server 10.0.0.1]\n")).files[0].1.contains("[ptp_domain 0]\ninterfaces eth9\n"));
    let ntp_only = profile(|p| {
        p.ptp4l_opts = s("");
        p.timemaster_opts = s(" ");
        p.timemaster_conf = s("[ntp_server 10.0.0.1]\n");
    });
    assert!(!render(&ntp_only).files[0].1.contains("ptp_domain"));
}

#[test]
fn timemaster_refusals_name_the_problem() {
    let err = |configure: &dyn Fn(&mut PtpProfile)| {
        render_err(&profile(|p| {
            p.ptp4l_opts = s("");
            p.timemaster_opts = s(" ");
            configure(p);
        }))
    };
    let e = err(&|p| p.timemaster_conf = s("[ptp_domain 0]\n"));
    assert!(e.contains("[ptp_domain 0] has no interfaces and the profile has no interface"), "{e}");
    let e = err(&|p| p.timemaster_conf = s("[ptp_domain 0]\ninterface eth0\n"));
    assert!(e.contains("timemasterConf line 2: unknown setting `interface` in [ptp_domain 0]"), "{e}");
    let e = err(&|p| p.timemaster_conf = s("[ptp_domain 0]\ninterfaces eth0\n[ptp4l]\noptions --message_tag=x\n"));
    assert!(e.contains("timemasterConf: `--message_tag=x` in [ptp4l] options sets message_tag"), "{e}");
    let e = err(&|p| p.timemaster_opts = s("-f /etc/timemaster.conf"));
    assert!(e.contains("timemasterOpts: `-f` sets -f"), "{e}");
    // The profile's own ptp4l (ptp4lOpts absent runs it) on timemaster's interface.
    let e = err(&|p| {
        p.ptp4l_opts = None;
        p.interface = s("eth0");
    });
    assert!(e.contains("timemaster runs ptp4l on eth0 and so does the profile's own ptp4l"), "{e}");
    let e = err(&|p| {
        p.ptp4l_opts = s("-i eth1");
        p.timemaster_conf = s("[ptp_domain 0]\ninterfaces eth1\n");
    });
    assert!(e.contains("timemaster runs ptp4l on eth1"), "{e}");
    // Its chronyd beside the profile's own; with ntpd it is fine.
    let e = err(&|p| p.chronyd_opts = s("-x"));
    assert!(e.contains("timemaster runs chronyd and so does the profile"), "{e}");
    let both = profile(|p| {
        p.ptp4l_opts = s("");
        p.chronyd_opts = s("-x");
        p.timemaster_opts = s(" ");
        p.timemaster_conf = s("[timemaster]\nntp_program ntpd\n");
    });
    assert_eq!(names(&render(&both)), vec!["chronyd", "timemaster"]);
    // Different interfaces: both run.
    let apart = profile(|p| {
        p.interface = s("eth0");
        p.timemaster_opts = s(" ");
        p.timemaster_conf = s("[ptp_domain 0]\ninterfaces eth1\n");
    });
    assert_eq!(names(&render(&apart)), vec!["ptp4l", "timemaster"]);
}
