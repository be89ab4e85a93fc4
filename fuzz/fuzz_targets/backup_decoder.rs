//! The backup decoder (`docs/backup-format.md`) on arbitrary files: the preamble, then every
//! record under a fixed key (so no case spends an Argon2 derivation). It must refuse, never
//! panic; an error other than `InvalidInput` is a finding too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_core::backup::BackupReader;
use strongroom_core::error::Error;
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let key = Zeroizing::new([0x42u8; 32]);
    let result = BackupReader::open(data)
        .and_then(|r| r.with_key(&key))
        .and_then(|mut r| {
            let mut seen = 0u64;
            while r.next_record(seen)?.is_some() {
                seen += 1;
            }
            Ok(seen)
        });
    if let Err(e) = result {
        assert!(
            matches!(e, Error::InvalidInput(_)),
            "not a clear refusal: {e:?}"
        );
    }
});
