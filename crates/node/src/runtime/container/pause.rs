//! The pod sandbox's image: a tiny static program that sleeps forever,
//! imported into the engine as `localhost/joblite-pause-<version>`.
//!
//! The kubelet's sandbox (the "pause" container) holds the pod's network,
//! IPC and UTS namespaces, so that every container of the pod shares one
//! IP, `localhost` and the hostname. Its image must exist without a
//! registry (nothing is pulled for joblite's own use) on Docker as on
//! Podman, so joblite makes it: a static ELF of a few dozen bytes that
//! calls `pause()` (`ppoll` on arm64) in a loop, in a one-file tarball
//! imported through the API (`POST /images/create?fromSrc=-`). Its only
//! exit is SIGKILL, which is how joblite removes it. Writing the ELF and the
//! tar here costs about a hundred lines; a tar crate and a toolchain for a
//! static C pause would cost more.

/// The sandbox image's reference. The version is in the name, not the
/// tag: Podman's import ignores the tag it is given.
pub fn image_name() -> String {
    format!(
        "localhost/joblite-pause-{}:latest",
        env!("CARGO_PKG_VERSION")
    )
}

/// The machine code of the loop for the build's architecture, with the
/// ELF machine number, or `None` on an architecture without one.
fn code() -> Option<(u16, Vec<u8>)> {
    match std::env::consts::ARCH {
        // loop: mov eax, 34 (pause); syscall; jmp loop
        "x86_64" => Some((0x3e, vec![0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7])),
        // loop: mov x0..x3, #0; mov x8, #73 (ppoll); svc #0; b loop
        "aarch64" => {
            let words: [u32; 7] = [
                0xd280_0000,
                0xd280_0001,
                0xd280_0002,
                0xd280_0003,
                0xd280_0928,
                0xd400_0001,
                0x17ff_fffa,
            ];
            Some((0xb7, words.iter().flat_map(|w| w.to_le_bytes()).collect()))
        }
        _ => None,
    }
}

/// A static ELF64 executable: header, one PT_LOAD segment, the code.
pub fn elf() -> Option<Vec<u8>> {
    let (machine, code) = code()?;
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + code.len() as u64;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    b.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    b.extend_from_slice(&64u64.to_le_bytes()); // phoff
    b.extend_from_slice(&0u64.to_le_bytes()); // shoff
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    b.extend_from_slice(&64u16.to_le_bytes()); // ehsize
    b.extend_from_slice(&56u16.to_le_bytes()); // phentsize
    b.extend_from_slice(&1u16.to_le_bytes()); // phnum
    b.extend_from_slice(&[0; 6]); // shentsize, shnum, shstrndx
    b.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    b.extend_from_slice(&5u32.to_le_bytes()); // R + X
    b.extend_from_slice(&0u64.to_le_bytes()); // offset
    b.extend_from_slice(&BASE.to_le_bytes()); // vaddr
    b.extend_from_slice(&BASE.to_le_bytes()); // paddr
    b.extend_from_slice(&size.to_le_bytes()); // filesz
    b.extend_from_slice(&size.to_le_bytes()); // memsz
    b.extend_from_slice(&0x1000u64.to_le_bytes()); // align
    b.extend_from_slice(&code);
    Some(b)
}

/// One ustar header block.
fn tar_header(name: &str, mode: u32, size: usize, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}", v, width = len - 1);
        h[at..at + len - 1].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, mode as u64);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size as u64);
    octal(&mut h, 136, 12, 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{:06o}\0 ", sum);
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// The image's root filesystem: `/pause`, and the directories an engine
/// mounts over.
pub fn rootfs_tar() -> Option<Vec<u8>> {
    let elf = elf()?;
    let mut t = Vec::new();
    for dir in ["dev/", "proc/", "sys/", "etc/"] {
        t.extend_from_slice(&tar_header(dir, 0o755, 0, b'5'));
    }
    t.extend_from_slice(&tar_header("pause", 0o755, elf.len(), b'0'));
    t.extend_from_slice(&elf);
    t.resize(t.len().div_ceil(512) * 512, 0);
    t.extend_from_slice(&[0; 1024]);
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated program runs on the host and sleeps until killed.
    #[test]
    fn the_pause_program_sleeps_until_killed() {
        let Some(elf) = elf() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, &elf).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "pause exited early");
        child.kill().unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
    }

    #[test]
    fn the_rootfs_is_a_well_formed_tar() {
        let Some(t) = rootfs_tar() else { return };
        assert_eq!(t.len() % 512, 0);
        // `tar` reads it back.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.tar");
        std::fs::write(&file, &t).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&file)
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{list}");
        assert!(list.contains("pause"), "{list}");
    }
}
