//! Property tests of the backup decoder (`docs/backup-format.md`): any records written read
//! back the same, across chunk boundaries; any change to a backup file (a byte, a cut, bytes
//! added) is refused with a clear error; arbitrary bytes never make the reader panic.
//!
//! The key is given directly (`with_key`), so no case spends an Argon2 derivation.

use std::io::Cursor;

use proptest::collection::vec;
use proptest::prelude::*;
use strongroom_core::backup::{BackupReader, BackupWriter, CHUNK_PLAINTEXT, MAGIC};
use strongroom_core::crypto::{KdfParams, Key32};
use strongroom_core::error::Error;
use zeroize::Zeroizing;

const KEY: [u8; 32] = [0x42; 32];

fn write(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let key: Key32 = Zeroizing::new(KEY);
    let mut w = BackupWriter::new(
        Vec::new(),
        &key,
        &KdfParams::new_for_key(),
        "2026-11-30T00:00:00Z".into(),
        None,
    )
    .expect("a writer");
    for (k, v) in records {
        w.record(k, v).expect("a record");
    }
    w.finish().expect("finished")
}

/// Every record of `file`, read with the right key; the first error otherwise.
fn read(file: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let key: Key32 = Zeroizing::new(KEY);
    let mut r = BackupReader::open(Cursor::new(file))?.with_key(&key)?;
    let mut out = Vec::new();
    while let Some((k, v)) = r.next_record(out.len() as u64)? {
        out.push((k, v.to_vec()));
    }
    Ok(out)
}

/// A refusal a client can read: `InvalidInput` with a message.
fn assert_clear(e: &Error) {
    match e {
        Error::InvalidInput(message) => assert!(!message.is_empty()),
        other => panic!("not a clear refusal: {other:?}"),
    }
}

fn records() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    // Mostly small values, some past a chunk, so records straddle chunk boundaries.
    let value = prop_oneof![
        8 => vec(any::<u8>(), 0..300),
        1 => vec(any::<u8>(), CHUNK_PLAINTEXT - 20..CHUNK_PLAINTEXT + 40),
    ];
    vec(("[a-z/0-9._-]{1,40}", value), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn records_round_trip(records in records()) {
        let file = write(&records);
        prop_assert_eq!(read(&file).expect("reads back"), records);
    }

    /// Changed bytes, a cut or bytes added anywhere: refused, clearly (the preamble is the
    /// chunks' associated data, and every chunk is authenticated).
    #[test]
    fn any_change_is_refused(
        records in records(),
        changes in vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in any::<Option<prop::sample::Index>>(),
        added in vec(any::<u8>(), 0..4),
    ) {
        let original = write(&records);
        let mut file = original.clone();
        for (at, flip) in changes {
            let i = at.index(file.len());
            file[i] ^= flip;
        }
        if let Some(cut) = cut {
            file.truncate(cut.index(file.len()));
        }
        file.extend_from_slice(&added);
        prop_assume!(file != original);
        let e = read(&file).expect_err("a changed backup is refused");
        assert_clear(&e);
    }

    #[test]
    fn arbitrary_bytes_are_refused(bytes in vec(any::<u8>(), 0..512)) {
        assert_clear(&read(&bytes).expect_err("not a backup"));
    }

    /// Past the magic and version, any header length and header: refused, clearly.
    #[test]
    fn arbitrary_preambles_are_refused(
        header_len in any::<u32>(),
        rest in vec(any::<u8>(), 0..512),
    ) {
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&1u16.to_be_bytes());
        file.extend_from_slice(&header_len.to_be_bytes());
        file.extend_from_slice(&rest);
        assert_clear(&read(&file).expect_err("not a backup"));
    }
}
