//! The backup file format of `docs/backup-format.md`: the preamble (magic, version, JSON
//! header), then records sealed in a STREAM construction of AES-256-GCM chunks under a key
//! derived from the backup passphrase. [`BackupWriter`] writes it and [`BackupReader`] reads
//! and authenticates it chunk by chunk; what goes in a backup, and how a restore applies it,
//! is the business of the parent module.

use std::io::{self, Read, Write};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};
use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use strongroom_store::sealed::derive_aes_key;
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Key32};
use crate::error::{Error, Result};
use crate::secret::Passphrase;

/// The first 16 bytes of every backup file.
pub const MAGIC: &[u8; 16] = b"STRONGROOMBACKUP";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Plaintext bytes per chunk (the last may be shorter).
pub const CHUNK_PLAINTEXT: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const LAST_CHUNK_FLAG: u32 = 1 << 31;
const MAX_HEADER: usize = 64 * 1024;
const MAX_KEY: usize = 1024;
const MAX_VALUE: usize = 16 * 1024 * 1024;
const HKDF_INFO: &[u8] = b"strongroom/backup/v1";
/// The first record: the domain key, in clear inside the backup's encryption.
pub const DOMAIN_KEY_RECORD: &str = "backup/domain-key";

pub(super) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}

fn kdf_refused(why: String) -> Error {
    invalid(format!(
        "the backup's key derivation parameters are not acceptable: {why}"
    ))
}

/// The header, in JSON, after the magic and version.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Header {
    /// How the backup key is derived from the backup passphrase.
    kdf: KdfParams,
    /// Hex of 32 random bytes: the HKDF salt of this file's key.
    file_salt: String,
    /// Hex of 7 random bytes: the fixed part of every chunk nonce.
    nonce_prefix: String,
    /// RFC 3339, appliance time.
    created: String,
    software_version: String,
    /// The last audit event in the backup (its sequence number and HMAC): a node that restores
    /// the whole backup takes it as its anchor, so the restored store is checked at its first
    /// unlock like any other (absent in backups of earlier builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit_head: Option<AuditMark>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditMark {
    pub seq: u64,
    pub hash: String,
}

/// The chunk cipher: AES-256-GCM under HKDF(backup key, file salt), nonces
/// `prefix(7) || counter(4, BE) || last(1)`, and the SHA-256 of everything before the first
/// chunk as associated data.
struct ChunkCipher {
    key: LessSafeKey,
    nonce_prefix: [u8; 7],
    aad: [u8; 32],
    counter: u32,
}

impl ChunkCipher {
    fn new(backup_key: &[u8; 32], file_salt: &[u8], nonce_prefix: [u8; 7], aad: [u8; 32]) -> Self {
        let key = derive_aes_key(backup_key, file_salt, HKDF_INFO);
        Self {
            key,
            nonce_prefix,
            aad,
            counter: 0,
        }
    }

    fn nonce(&self, last: bool) -> Nonce {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&self.counter.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::assume_unique_for_key(n)
    }

    fn seal(&mut self, plaintext: &[u8], last: bool) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(self.nonce(last), Aad::from(&self.aad), &mut buf)
            .expect("sealing an in-memory chunk does not fail");
        self.counter += 1;
        buf
    }

    fn open(&mut self, mut ciphertext: Vec<u8>, last: bool) -> Result<Zeroizing<Vec<u8>>> {
        let len = self
            .key
            .open_in_place(self.nonce(last), Aad::from(&self.aad), &mut ciphertext)
            .map_err(|_| {
                invalid("the backup cannot be opened: the backup passphrase is wrong, or the file is damaged")
            })?
            .len();
        ciphertext.truncate(len);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| invalid("the backup has too many chunks"))?;
        Ok(Zeroizing::new(ciphertext))
    }
}

/// Writes a backup: the preamble at once, then records, chunk by chunk. The plaintext buffer
/// (which holds the domain key at first) is allocated once, one chunk long, and never grows,
/// so no reallocation leaves an unwiped copy behind; it is wiped when the writer drops.
pub struct BackupWriter<W: Write> {
    out: W,
    cipher: ChunkCipher,
    buf: Zeroizing<Vec<u8>>,
    records: u64,
}

impl<W: Write> BackupWriter<W> {
    pub fn new(
        mut out: W,
        backup_key: &Key32,
        kdf: &KdfParams,
        created: String,
        audit_head: Option<AuditMark>,
    ) -> io::Result<Self> {
        let mut file_salt = [0u8; 32];
        crypto::fill_random(&mut file_salt);
        let mut nonce_prefix = [0u8; 7];
        crypto::fill_random(&mut nonce_prefix);
        let header = Header {
            kdf: kdf.clone(),
            file_salt: hex::encode(file_salt),
            nonce_prefix: hex::encode(nonce_prefix),
            created,
            software_version: env!("CARGO_PKG_VERSION").into(),
            audit_head,
        };
        let header = serde_json::to_vec(&header).map_err(io::Error::other)?;
        let mut preamble = Vec::with_capacity(22 + header.len());
        preamble.extend_from_slice(MAGIC);
        preamble.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        preamble.extend_from_slice(&(header.len() as u32).to_be_bytes());
        preamble.extend_from_slice(&header);
        out.write_all(&preamble)?;
        let aad: [u8; 32] = digest(&SHA256, &preamble)
            .as_ref()
            .try_into()
            .expect("32 bytes");
        Ok(Self {
            out,
            cipher: ChunkCipher::new(backup_key, &file_salt, nonce_prefix, aad),
            buf: Zeroizing::new(Vec::with_capacity(CHUNK_PLAINTEXT)),
            records: 0,
        })
    }

    fn write_chunk(&mut self, len: usize, last: bool) -> io::Result<()> {
        let sealed = self.cipher.seal(&self.buf[..len], last);
        let mut frame = sealed.len() as u32;
        if last {
            frame |= LAST_CHUNK_FLAG;
        }
        self.out.write_all(&frame.to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.buf.drain(..len);
        Ok(())
    }

    /// Adds plaintext; a full chunk is sealed and written once more plaintext follows it (so
    /// the last chunk is never empty), and the buffer never holds more than one chunk.
    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.buf.len() == CHUNK_PLAINTEXT {
                self.write_chunk(CHUNK_PLAINTEXT, false)?;
            }
            let n = bytes.len().min(CHUNK_PLAINTEXT - self.buf.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Appends one record: `0x01 || key length (u32) || key || value length (u32) || value`.
    /// A key or value larger than a reader accepts ([`MAX_KEY`], [`MAX_VALUE`]) is refused:
    /// better a backup that fails than a file no restore can read.
    pub fn record(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a store key of {} bytes cannot be backed up (1 to {MAX_KEY})",
                    key.len()
                ),
            ));
        }
        if value.len() > MAX_VALUE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the value of {key} is {} bytes; a backup holds values of at most {MAX_VALUE}",
                    value.len()
                ),
            ));
        }
        self.push(&[1])?;
        self.push(&(key.len() as u32).to_be_bytes())?;
        self.push(key.as_bytes())?;
        self.push(&(value.len() as u32).to_be_bytes())?;
        self.push(value)?;
        self.records += 1;
        Ok(())
    }

    /// Appends the end record (`0x00 || record count (u64)`) and the last chunk.
    pub fn finish(mut self) -> io::Result<W> {
        self.push(&[0])?;
        let count = self.records;
        self.push(&count.to_be_bytes())?;
        let len = self.buf.len();
        self.write_chunk(len, true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a backup: the preamble, then (once keyed) the records, authenticating chunk by chunk.
pub struct BackupReader<R: Read> {
    input: R,
    header: Header,
    aad: [u8; 32],
    cipher: Option<ChunkCipher>,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    saw_last: bool,
}

fn read_exact_or_truncated<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => invalid("the backup is truncated"),
        _ => Error::Internal(format!("reading the backup: {e}")),
    })
}

impl<R: Read> BackupReader<R> {
    /// The last audit event the backup holds, as its header says.
    pub fn audit_head(&self) -> Option<&AuditMark> {
        self.header.audit_head.as_ref()
    }

    /// Reads and checks the preamble: magic, version, header.
    pub fn open(mut input: R) -> Result<Self> {
        let mut fixed = [0u8; 22];
        read_exact_or_truncated(&mut input, &mut fixed)?;
        if &fixed[..16] != MAGIC {
            return Err(invalid("not a Strongroom backup"));
        }
        let version = u16::from_be_bytes([fixed[16], fixed[17]]);
        if version != FORMAT_VERSION {
            return Err(invalid(format!(
                "backup format version {version} is not supported (this build reads {FORMAT_VERSION})"
            )));
        }
        let header_len = u32::from_be_bytes(fixed[18..22].try_into().expect("4 bytes")) as usize;
        if header_len > MAX_HEADER {
            return Err(invalid("the backup header is too large"));
        }
        let mut header_bytes = vec![0u8; header_len];
        read_exact_or_truncated(&mut input, &mut header_bytes)?;
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|_| invalid("the backup header is malformed"))?;
        // A file is untrusted input: its KDF parameters must not make the node spend
        // unbounded memory or time, and are checked before anything is derived.
        header.kdf.validate().map_err(kdf_refused)?;
        let mut preamble = fixed.to_vec();
        preamble.extend_from_slice(&header_bytes);
        let aad: [u8; 32] = digest(&SHA256, &preamble)
            .as_ref()
            .try_into()
            .expect("32 bytes");
        Ok(Self {
            input,
            header,
            aad,
            cipher: None,
            plain: Zeroizing::new(Vec::new()),
            pos: 0,
            saw_last: false,
        })
    }

    /// Derives the backup key from the passphrase with the file's parameters (checked by
    /// [`BackupReader::open`]). `Busy` if the Argon2 gate is full.
    pub fn derive_key(&self, passphrase: &Passphrase) -> Result<Key32> {
        self.header.kdf.validate().map_err(kdf_refused)?;
        self.header.kdf.derive(passphrase.as_bytes())
    }

    /// Keys the reader; records can be read from now on.
    pub fn with_key(mut self, backup_key: &Key32) -> Result<Self> {
        let salt = hex::decode(&self.header.file_salt)
            .map_err(|_| invalid("the backup header is malformed"))?;
        let prefix: [u8; 7] = hex::decode(&self.header.nonce_prefix)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| invalid("the backup header is malformed"))?;
        self.cipher = Some(ChunkCipher::new(backup_key, &salt, prefix, self.aad));
        Ok(self)
    }

    /// Decrypts the next chunk into `plain`; `false` at the end of the chunk stream.
    fn next_chunk(&mut self) -> Result<bool> {
        if self.saw_last {
            return Ok(false);
        }
        let cipher = self
            .cipher
            .as_mut()
            .ok_or_else(|| Error::Internal("backup reader has no key".into()))?;
        let mut frame = [0u8; 4];
        read_exact_or_truncated(&mut self.input, &mut frame)?;
        let frame = u32::from_be_bytes(frame);
        let last = frame & LAST_CHUNK_FLAG != 0;
        let len = (frame & !LAST_CHUNK_FLAG) as usize;
        if !(TAG_LEN..=CHUNK_PLAINTEXT + TAG_LEN).contains(&len) {
            return Err(invalid("the backup is damaged (bad chunk length)"));
        }
        let mut ciphertext = vec![0u8; len];
        read_exact_or_truncated(&mut self.input, &mut ciphertext)?;
        self.plain = cipher.open(ciphertext, last)?;
        self.pos = 0;
        if last {
            self.saw_last = true;
            let mut extra = [0u8; 1];
            match self.input.read(&mut extra) {
                Ok(0) => {}
                Ok(_) => return Err(invalid("the backup has data after its end")),
                Err(e) => return Err(Error::Internal(format!("reading the backup: {e}"))),
            }
        }
        Ok(true)
    }

    /// Reads exactly `buf.len()` plaintext bytes across chunks.
    fn read_plain(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.pos == self.plain.len() && !self.next_chunk()? {
                return Err(invalid("the backup is truncated"));
            }
            let n = (buf.len() - filled).min(self.plain.len() - self.pos);
            buf[filled..filled + n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
            self.pos += n;
            filled += n;
        }
        Ok(())
    }

    fn read_u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_plain(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    /// The next record, or `None` after the end record (whose count is checked, and after
    /// which nothing may follow).
    pub fn next_record(&mut self, seen: u64) -> Result<Option<(String, Zeroizing<Vec<u8>>)>> {
        let mut tag = [0u8; 1];
        self.read_plain(&mut tag)?;
        match tag[0] {
            1 => {
                let key_len = self.read_u32()? as usize;
                if key_len == 0 || key_len > MAX_KEY {
                    return Err(invalid("the backup's records are malformed (key length)"));
                }
                let mut key = vec![0u8; key_len];
                self.read_plain(&mut key)?;
                let key = String::from_utf8(key)
                    .map_err(|_| invalid("the backup's records are malformed (key encoding)"))?;
                let value_len = self.read_u32()? as usize;
                if value_len > MAX_VALUE {
                    return Err(invalid("the backup's records are malformed (value length)"));
                }
                let mut value = Zeroizing::new(vec![0u8; value_len]);
                self.read_plain(&mut value)?;
                Ok(Some((key, value)))
            }
            0 => {
                let mut count = [0u8; 8];
                self.read_plain(&mut count)?;
                if u64::from_be_bytes(count) != seen {
                    return Err(invalid("the backup's record count does not match"));
                }
                if self.pos != self.plain.len() {
                    return Err(invalid("the backup has data after its end"));
                }
                if !self.saw_last {
                    // The end record filled a chunk exactly: the format allows (and only
                    // allows) an empty last chunk after it.
                    if !self.next_chunk()? {
                        return Err(invalid("the backup is truncated"));
                    }
                    if !self.saw_last || !self.plain.is_empty() {
                        return Err(invalid("the backup has data after its end"));
                    }
                }
                Ok(None)
            }
            _ => Err(invalid("the backup's records are malformed (record type)")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn quick_kdf() -> KdfParams {
        let mut k = KdfParams::new_for_key();
        // The format, not the KDF, is under test: the cheapest parameters allowed.
        k.memory_kib = crypto::KDF_MIN_MEMORY_KIB;
        k.iterations = crypto::KDF_MIN_ITERATIONS;
        k
    }

    /// Quick KDF parameters, the passphrase "backup passphrase" and the key it derives.
    fn passphrase_and_key() -> (KdfParams, Passphrase, Key32) {
        let kdf = quick_kdf();
        let pass = Passphrase::new("backup passphrase");
        let key = kdf.derive(pass.as_bytes()).unwrap();
        (kdf, pass, key)
    }

    fn sample(records: &[(String, Vec<u8>)], key: &Key32, kdf: &KdfParams) -> Vec<u8> {
        let mut w = BackupWriter::new(Vec::new(), key, kdf, "now".into(), None).unwrap();
        for (k, v) in records {
            w.record(k, v).unwrap();
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8], passphrase: &Passphrase) -> Result<Vec<(String, Vec<u8>)>> {
        let r = BackupReader::open(bytes)?;
        let key = r.derive_key(passphrase)?;
        read_all_with(bytes, &key)
    }

    /// As [`read_all`], with the key derived already (the header is still read and checked).
    fn read_all_with(bytes: &[u8], key: &Key32) -> Result<Vec<(String, Vec<u8>)>> {
        let mut r = BackupReader::open(bytes)?.with_key(key)?;
        let mut out = Vec::new();
        while let Some((k, v)) = r.next_record(out.len() as u64)? {
            out.push((k, v.to_vec()));
        }
        Ok(out)
    }

    #[test]
    fn round_trip_across_chunks_and_every_damage_is_refused() {
        let (kdf, pass, key) = passphrase_and_key();
        // ~200 KiB of records: several chunks, records straddling chunk boundaries.
        let records: Vec<(String, Vec<u8>)> = (0..50)
            .map(|i| (format!("k/{i:03}"), vec![i as u8; 4000 + i * 17]))
            .collect();
        let bytes = sample(&records, &key, &kdf);
        assert_eq!(read_all(&bytes, &pass).unwrap(), records);
        assert!(bytes.len() > 3 * CHUNK_PLAINTEXT);
        assert!(read_all(&bytes, &Passphrase::new("other passphrase")).is_err());
        // Every truncation, at a spread of lengths including chunk boundaries, is refused.
        for len in (0..bytes.len()).step_by(997).chain([bytes.len() - 1]) {
            assert!(
                read_all_with(&bytes[..len], &key).is_err(),
                "truncated to {len}"
            );
        }
        for pos in (0..bytes.len()).step_by(1009) {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 0x80;
            // A flip in the header's KDF parameters changes the key too: derive it.
            let header_end = 22 + u32::from_be_bytes(bytes[18..22].try_into().unwrap()) as usize;
            let result = if pos < header_end {
                read_all(&damaged, &pass)
            } else {
                read_all_with(&damaged, &key)
            };
            assert!(result.is_err(), "flip at {pos}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read_all_with(&longer, &key).is_err());
    }

    /// A writer that ends its records exactly at a chunk boundary, then writes an empty last
    /// chunk, as the format allows (ours never does: its last chunk is never empty).
    fn ending_on_a_boundary(key: &Key32, kdf: &KdfParams, then: &[u8]) -> Vec<u8> {
        let mut w = BackupWriter::new(Vec::new(), key, kdf, "now".into(), None).unwrap();
        // 1 + 4 + 1 + 4 + value, then the 9-byte end record: exactly one chunk.
        w.record("k", &vec![7u8; CHUNK_PLAINTEXT - 10 - 9]).unwrap();
        w.buf.push(0);
        w.buf.extend_from_slice(&1u64.to_be_bytes());
        assert_eq!(w.buf.len(), CHUNK_PLAINTEXT);
        w.write_chunk(CHUNK_PLAINTEXT, false).unwrap();
        w.buf.extend_from_slice(then);
        let len = w.buf.len();
        w.write_chunk(len, true).unwrap();
        w.out
    }

    #[test]
    fn an_empty_last_chunk_after_a_full_one_is_read() {
        let (kdf, pass, key) = passphrase_and_key();
        let bytes = ending_on_a_boundary(&key, &kdf, &[]);
        let records = read_all(&bytes, &pass).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].1.len(), CHUNK_PLAINTEXT - 19);
        // A last chunk that is not empty there is data after the end.
        let e = read_all(&ending_on_a_boundary(&key, &kdf, &[0]), &pass).unwrap_err();
        assert!(e.to_string().contains("data after its end"), "{e}");
    }

    #[test]
    fn the_writer_refuses_what_the_reader_would_refuse() {
        let (kdf, pass, key) = passphrase_and_key();
        let mut w = BackupWriter::new(Vec::new(), &key, &kdf, "now".into(), None).unwrap();
        let e = w.record("big", &vec![0u8; MAX_VALUE + 1]).unwrap_err();
        assert!(e.to_string().contains("at most 16777216"), "{e}");
        assert!(w.record("", b"v").is_err());
        assert!(w.record(&"k".repeat(MAX_KEY + 1), b"v").is_err());
        // The largest key and value it accepts, the reader reads back.
        let long_key = "k".repeat(MAX_KEY);
        w.record(&long_key, &vec![1u8; MAX_VALUE]).unwrap();
        let bytes = w.finish().unwrap();
        let records = read_all(&bytes, &pass).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, long_key);
        assert_eq!(records[0].1.len(), MAX_VALUE);
    }

    #[test]
    fn the_plaintext_buffer_is_never_reallocated() {
        let (kdf, pass, key) = passphrase_and_key();
        let mut w = BackupWriter::new(Vec::new(), &key, &kdf, "now".into(), None).unwrap();
        let (at, capacity) = (w.buf.as_ptr(), w.buf.capacity());
        // The domain key first, as a backup does, then values larger than a chunk, and
        // values that end exactly on a chunk boundary.
        let records: Vec<(String, Vec<u8>)> = vec![
            (DOMAIN_KEY_RECORD.into(), vec![7u8; 32]),
            ("big".into(), vec![1u8; 3 * CHUNK_PLAINTEXT + 5]),
            ("exact".into(), vec![2u8; CHUNK_PLAINTEXT - 14]),
            ("small".into(), vec![3u8; 10]),
        ];
        for (k, v) in &records {
            w.record(k, v).unwrap();
            assert_eq!((w.buf.as_ptr(), w.buf.capacity()), (at, capacity), "{k}");
            assert!(w.buf.len() <= CHUNK_PLAINTEXT);
        }
        let bytes = w.finish().unwrap();
        assert_eq!(read_all(&bytes, &pass).unwrap(), records);
    }

    #[test]
    fn hostile_headers_are_refused() {
        let kdf = quick_kdf();
        let key = kdf.derive(b"x").unwrap();
        let bytes = sample(&[], &key, &kdf);
        let mut v2 = bytes.clone();
        v2[17] = 2;
        let e = BackupReader::open(v2.as_slice()).err().unwrap();
        assert!(e.to_string().contains("version 2"));
        for (memory_kib, iterations, what) in [
            (64 * 1024 * 1024, 3, "memory_kib 67108864"),
            (crypto::KDF_MAX_MEMORY_KIB + 1, 3, "memory_kib 262145"),
            (65536, 16, "iterations 16"),
            (64, 1, "memory_kib 64"),
        ] {
            let mut hostile = KdfParams::new_for_key();
            hostile.memory_kib = memory_kib;
            hostile.iterations = iterations;
            let bytes = sample(&[], &key, &hostile);
            let e = BackupReader::open(bytes.as_slice()).err().unwrap();
            assert!(
                e.to_string()
                    .starts_with("the backup's key derivation parameters are not acceptable")
                    && e.to_string().contains(what),
                "{e}"
            );
        }
        assert!(BackupReader::open(&b"STRONGROOMBACKUP\x00\x01\xff\xff\xff\xff"[..]).is_err());
    }
}
