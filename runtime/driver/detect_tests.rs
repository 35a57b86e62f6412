//! The probe list against the source: every opcode an op or the driver
//! builds is probed, and nothing is probed that nothing builds, so a new op
//! cannot start on a kernel without it, nor an old entry refuse io_uring.

use std::collections::BTreeSet;
use std::path::Path;

/// Builders that share the code of another (`AcceptMulti` is ACCEPT with a
/// flag), and MSG_RING and SEND_ZC, which are optional and probed on their own.
const NOT_LISTED: &[&str] = &[
    "AcceptMulti",
    "RecvMulti",
    "RecvMsgMulti",
    "AsyncCancel2",
    "MsgRingData",
    "SendZc",
];

/// The `X` of every `opcode::X::new` under `dir`.
fn built(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            built(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(file!()) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("opcode::") {
                let rest = &text[i + "opcode::".len()..];
                if let Some((name, _)) = rest.split_once("::new") {
                    if name.chars().all(|c| c.is_ascii_alphanumeric()) {
                        out.insert(name.to_string());
                    }
                }
            }
        }
    }
}

#[test]
fn the_probe_list_is_exactly_the_opcodes_submitted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut submitted = BTreeSet::new();
    for dir in ["runtime", "net", "fs"] {
        built(&root.join(dir), &mut submitted);
    }
    submitted.retain(|name| !NOT_LISTED.contains(&name.as_str()));
    let detect = std::fs::read_to_string(root.join("runtime/driver/detect.rs")).unwrap();
    let listed: BTreeSet<String> = detect
        .lines()
        .filter_map(|line| line.trim().strip_prefix("(opcode::"))
        .filter_map(|rest| rest.split_once("::CODE"))
        .map(|(name, _)| name.to_string())
        .collect();
    assert!(!listed.is_empty(), "no USED_OPCODES entries found");
    assert_eq!(
        listed, submitted,
        "USED_OPCODES in detect.rs vs opcode::X::new in the source"
    );
}
