//! Network namespaces and veth pairs for tests and the local lab, through `ip` (iproute2).
//! Every object is a guard: [`NetNs`] deletes its namespace (and so every interface in it) on
//! drop, [`HostVeth`] deletes its pair; a panicking test still cleans up. Names are unique per
//! process and call, so tests can run in parallel.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `{prefix}{pid % 100000}x{n}`, at most 15 bytes for
/// a prefix of up to 3 bytes (interface names are limited to 15).
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// Runs a command; a non-zero exit is an error carrying its stderr.
pub fn run<I, S>(program: &str, args: I) -> std::io::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
    let output = Command::new(program).args(&args).output()?;
    check(program, &args, output)
}

fn check(program: &str, args: &[std::ffi::OsString], output: Output) -> std::io::Result<String> {
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let shown: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    Err(std::io::Error::other(format!(
        "`{program} {}` failed ({}): {}",
        shown.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// A network namespace named uniquely, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// `ip netns add <prefix>-<pid>-<n>` and brings its loopback up.
    pub fn new(prefix: &str) -> std::io::Result<NetNs> {
        let name = format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        run("ip", ["netns", "add", &name])?;
        let ns = NetNs { name };
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`, for `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs `ip -n <name> ARGS` (an `ip` command inside the namespace).
    pub fn ip<I, S>(&self, args: I) -> std::io::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = vec!["-n".into(), self.name.clone().into()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        run("ip", all)
    }

    /// A command that runs `program ARGS` inside the namespace (`ip netns exec`); the caller can
    /// add arguments, environment and I/O before running it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args([OsStr::new("netns"), OsStr::new("exec"), OsStr::new(&self.name), program.as_ref()]);
        command
    }

    /// Runs `program ARGS` inside the namespace; a non-zero exit is an error.
    pub fn exec<I, S>(&self, program: &str, args: I) -> std::io::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        let output = self.command(program).args(&args).output()?;
        check(program, &args, output)
    }

    /// Adds a veth pair `a`/`b` inside the namespace and brings both ends up.
    pub fn add_veth_pair(&self, a: &str, b: &str) -> std::io::Result<()> {
        self.ip(["link", "add", a, "type", "veth", "peer", "name", b])?;
        self.ip(["link", "set", a, "up"])?;
        self.ip(["link", "set", b, "up"])?;
        Ok(())
    }

    /// Adds `count` veth pairs `{prefix}{i}a`/`{prefix}{i}b` with one batched `ip` call.
    pub fn add_veth_pairs(&self, prefix: &str, count: usize) -> std::io::Result<Vec<String>> {
        let mut batch = String::new();
        let mut names = Vec::new();
        for i in 0..count {
            let (a, b) = (format!("{prefix}{i}a"), format!("{prefix}{i}b"));
            batch.push_str(&format!("link add {a} type veth peer name {b}\nlink set {a} up\nlink set {b} up\n"));
            names.extend([a, b]);
        }
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), batch)?;
        self.ip([OsStr::new("-batch"), file.path().as_os_str()])?;
        Ok(names)
    }

    /// Deletes an interface of the namespace (a veth end takes its peer along).
    pub fn del_link(&self, name: &str) -> std::io::Result<()> {
        self.ip(["link", "del", name]).map(drop)
    }

    /// Interface names in the namespace.
    pub fn links(&self) -> std::io::Result<Vec<String>> {
        Ok(parse_link_names(&self.ip(["-o", "link", "show"])?))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = run("ip", ["netns", "del", &self.name]) {
            eprintln!("cleanup: deleting network namespace {}: {e}", self.name);
        }
    }
}

/// A veth pair in the current (host) namespace, deleted on drop.
#[derive(Debug)]
pub struct HostVeth {
    pub a: String,
    pub b: String,
}

impl HostVeth {
    /// Creates `a`/`b` (at most 15 bytes each) and brings both up.
    pub fn new(a: &str, b: &str) -> std::io::Result<HostVeth> {
        run("ip", ["link", "add", a, "type", "veth", "peer", "name", b])?;
        let pair = HostVeth { a: a.to_string(), b: b.to_string() };
        run("ip", ["link", "set", a, "up"])?;
        run("ip", ["link", "set", b, "up"])?;
        Ok(pair)
    }
}

impl Drop for HostVeth {
    fn drop(&mut self) {
        if let Err(e) = run("ip", ["link", "del", &self.a]) {
            eprintln!("cleanup: deleting veth {}: {e}", self.a);
        }
    }
}

/// Interface names from `ip -o link show` (`2: veth0@veth1: <...>` → `veth0`).
pub fn parse_link_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_fit_interface_names_and_differ() {
        let (a, b) = (unique_name("pt"), unique_name("pt"));
        assert_ne!(a, b);
        assert!(a.len() <= 15, "{a}");
    }

    #[test]
    fn parses_ip_link_output() {
        let text = "1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue\n5: v0a@v0b: <BROADCAST> mtu 1500\n";
        assert_eq!(parse_link_names(text), ["lo", "v0a"]);
    }

    #[test]
    fn failing_commands_report_stderr() {
        let err = run("ip", ["link", "show", "no-such-link-xyz"]).unwrap_err().to_string();
        assert!(err.contains("no-such-link-xyz"), "{err}");
    }

    #[test]
    fn namespace_with_veths_is_removed_on_drop_even_after_a_panic() {
        if !crate::root::require_root("namespace_with_veths_is_removed_on_drop_even_after_a_panic") {
            return;
        }
        let name = std::panic::catch_unwind(|| {
            let ns = NetNs::new("tk").unwrap();
            ns.add_veth_pair("va", "vb").unwrap();
            let names = ns.add_veth_pairs("p", 2).unwrap();
            assert_eq!(names, ["p0a", "p0b", "p1a", "p1b"]);
            let links = ns.links().unwrap();
            for l in ["lo", "va", "vb", "p0a", "p1b"] {
                assert!(links.iter().any(|x| x == l), "{l} in {links:?}");
            }
            assert!(ns.exec("ip", ["link", "show", "va"]).unwrap().contains("va"));
            ns.del_link("va").unwrap();
            assert!(!ns.links().unwrap().iter().any(|x| x == "vb"), "peer goes too");
            let name = ns.name().to_string();
            std::panic::panic_any(name);
        })
        .unwrap_err();
        let name = name.downcast_ref::<String>().unwrap();
        let list = run("ip", ["netns", "list"]).unwrap();
        assert!(!list.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())), "{name} left in {list}");
    }
}
