use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind, RenameMode};

use super::*;

const PROFILE: &str = "/etc/linuxptp/node-1";

/// Every event kind notify can report.
fn all_kinds() -> Vec<EventKind> {
    let modes = [AccessMode::Any, AccessMode::Execute, AccessMode::Read, AccessMode::Write, AccessMode::Other];
    let mut kinds = vec![EventKind::Any, EventKind::Other];
    kinds.extend([AccessKind::Any, AccessKind::Read, AccessKind::Other].map(EventKind::Access));
    for m in modes {
        kinds.push(EventKind::Access(AccessKind::Open(m)));
        kinds.push(EventKind::Access(AccessKind::Close(m)));
    }
    kinds.extend([CreateKind::Any, CreateKind::File, CreateKind::Folder, CreateKind::Other].map(EventKind::Create));
    kinds.extend([RemoveKind::Any, RemoveKind::File, RemoveKind::Folder, RemoveKind::Other].map(EventKind::Remove));
    kinds.extend([ModifyKind::Any, ModifyKind::Other].map(EventKind::Modify));
    for d in [DataChange::Any, DataChange::Size, DataChange::Content, DataChange::Other] {
        kinds.push(EventKind::Modify(ModifyKind::Data(d)));
    }
    for m in [
        MetadataKind::Any,
        MetadataKind::AccessTime,
        MetadataKind::WriteTime,
        MetadataKind::Permissions,
        MetadataKind::Ownership,
        MetadataKind::Extended,
        MetadataKind::Other,
    ] {
        kinds.push(EventKind::Modify(ModifyKind::Metadata(m)));
    }
    for r in [RenameMode::Any, RenameMode::To, RenameMode::From, RenameMode::Both, RenameMode::Other] {
        kinds.push(EventKind::Modify(ModifyKind::Name(r)));
    }
    kinds
}

/// The kinds that leave a file as it was: every access but a close after writing, and an
/// access-time change.
fn leaves_content(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(
            AccessKind::Any
                | AccessKind::Read
                | AccessKind::Other
                | AccessKind::Open(_)
                | AccessKind::Close(AccessMode::Any | AccessMode::Execute | AccessMode::Read | AccessMode::Other)
        ) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn only_content_changes_of_the_file_or_the_kubelet_link_count() {
    // (paths of the event, whether they concern the profile)
    let cases: &[(&[&str], bool)] = &[
        (&["/etc/linuxptp/node-1"], true),
        (&["/etc/linuxptp/..data"], true),
        (&["/etc/linuxptp"], true),
        (&["/etc/linuxptp/..data_tmp", "/etc/linuxptp/..data"], true),
        (&["/etc/linuxptp/node-1.tmp", "/etc/linuxptp/node-1"], true),
        (&["/etc/linuxptp/node-1", "/etc/linuxptp/node-1.bak"], true),
        (&["/etc/linuxptp/node-2"], false),
        (&["/etc/linuxptp/..data_tmp"], false),
        (&["/etc/linuxptp/..2026_11_24_14_02_19.1"], false),
        (&["/etc/linuxptp/..2026_11_24_14_02_19.1/node-1"], false),
        (&["/etc/other/node-1"], false),
        (&["/etc/other/..data"], false),
        (&["/etc"], false),
        (&["/etc/linuxptp/node-10"], false),
        (&["/etc/linuxptp/node-2", "/etc/linuxptp/node-3"], false),
        (&[], false),
    ];
    let profile = Path::new(PROFILE);
    let kinds = all_kinds();
    assert_eq!(kinds.len(), 41, "every kind of notify-types 2.3");
    for kind in &kinds {
        for (list, concerned) in cases {
            let expected = *concerned && !leaves_content(kind);
            assert_eq!(changes_content(kind, &paths(list), false, profile), expected, "{kind:?} on {list:?}");
            assert!(changes_content(kind, &paths(list), true, profile), "a rescan always re-reads: {kind:?} {list:?}");
        }
    }
}

#[test]
fn what_inotify_reports_for_the_agents_own_read_is_ignored() {
    let profile = Path::new(PROFILE);
    let file = paths(&[PROFILE]);
    for kind in [
        EventKind::Access(AccessKind::Open(AccessMode::Any)),
        EventKind::Access(AccessKind::Read),
        EventKind::Access(AccessKind::Close(AccessMode::Read)),
    ] {
        assert!(!changes_content(&kind, &file, false, profile), "{kind:?}");
    }
    for kind in [
        EventKind::Access(AccessKind::Close(AccessMode::Write)),
        EventKind::Modify(ModifyKind::Data(DataChange::Any)),
        EventKind::Create(CreateKind::File),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)),
        EventKind::Remove(RemoveKind::File),
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
    ] {
        assert!(changes_content(&kind, &file, false, profile), "{kind:?}");
    }
    // kubelet's swap: moved-from `..data_tmp` alone does not count, moved-to `..data` does.
    let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
    assert!(!changes_content(&from, &paths(&["/etc/linuxptp/..data_tmp"]), false, profile));
    let to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
    assert!(changes_content(&to, &paths(&["/etc/linuxptp/..data"]), false, profile));
}

#[test]
fn a_relative_profile_path_compares_by_its_own_spelling() {
    let profile = Path::new("conf/node-1");
    let close = EventKind::Access(AccessKind::Close(AccessMode::Write));
    assert!(changes_content(&close, &paths(&["conf/node-1"]), false, profile));
    assert!(!changes_content(&close, &paths(&["conf/node-2"]), false, profile));
}

#[test]
fn a_changed_text_or_a_new_read_error_is_sent_once() {
    let text = |t: &str| Read::Text(t.into());
    let unreadable = |t: &str| Read::Unreadable(t.into());
    let cases = [
        (Delivered::Nothing, text("[]"), Some(Ok("[]".to_string()))),
        (Delivered::Text("[]".into()), text("[]"), None),
        (Delivered::Text("[]".into()), text("{}"), Some(Ok("{}".to_string()))),
        (Delivered::Unreadable("denied".into()), text("[]"), Some(Ok("[]".to_string()))),
        (Delivered::Nothing, Read::Missing, None),
        (Delivered::Text("[]".into()), Read::Missing, None),
        (Delivered::Unreadable("denied".into()), Read::Missing, None),
        (Delivered::Nothing, unreadable("denied"), Some(Err("denied".to_string()))),
        (Delivered::Text("[]".into()), unreadable("denied"), Some(Err("denied".to_string()))),
        (Delivered::Unreadable("denied".into()), unreadable("denied"), None),
        (Delivered::Unreadable("denied".into()), unreadable("a directory"), Some(Err("a directory".to_string()))),
    ];
    for (last, read, expected) in cases {
        assert_eq!(to_send(&last, &read), expected, "{last:?} then {read:?}");
    }
}

#[test]
fn reads_tell_missing_from_unreadable() {
    let dir = std::env::temp_dir().join(format!("ptp-profile-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(read(&dir.join("absent")), Read::Missing);
    assert_eq!(read(&dir.join("absent/deeper")), Read::Missing);
    std::fs::write(dir.join("ok"), "[]").unwrap();
    assert_eq!(read(&dir.join("ok")), Read::Text("[]".into()));
    std::fs::write(dir.join("latin1"), b"[{\"name\":\"\xe9\"}]").unwrap();
    assert!(matches!(read(&dir.join("latin1")), Read::Unreadable(why) if why.starts_with("not UTF-8")));
    assert!(matches!(read(&dir), Read::Unreadable(_)), "a directory");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_burst_is_read_once_it_settles_and_a_stream_at_most_every_settle_max() {
    let t0 = Instant::now();
    let ms = |n: u64| Duration::from_millis(n);
    assert_eq!(read_at(t0, t0), t0 + SETTLE, "one event: read once the directory is quiet");
    assert_eq!(read_at(t0, t0 + ms(30)), t0 + ms(30) + SETTLE, "the quiet time counts from the last event");
    assert_eq!(read_at(t0, t0 + SETTLE_MAX - SETTLE), t0 + SETTLE_MAX);
    for late in [SETTLE_MAX - SETTLE + ms(1), SETTLE_MAX, SETTLE_MAX * 5] {
        assert_eq!(read_at(t0, t0 + late), t0 + SETTLE_MAX, "a stream of events delays the read at most SETTLE_MAX");
    }
}
