//! The few aws-lc operations aws-lc-rs's safe API does not offer, through `aws-lc-sys` (the
//! same aws-lc that aws-lc-rs links): signing a caller-supplied digest (RSA PKCS#1 v1.5 of a
//! DigestInfo without hashing again, RSA-PSS and ECDSA of a digest), building an RSA key from
//! its primes, the public parts of a key (SPKI DER, RSA modulus and exponent), and RSA
//! decryption (RAW and OAEP; PKCS#1 v1.5 is RAW plus the padding check in `crypt`).
//!
//! Every pointer is owned by a guard that frees it on every path; private key material in
//! aws-lc is freed with aws-lc's own free functions, which cleanse it. Errors are opaque on
//! purpose: they never carry key material.

use std::ptr;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

/// An aws-lc failure; deliberately without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LcError;

type R<T> = std::result::Result<T, LcError>;

/// An `EVP_PKEY` parsed from PKCS#8, freed on drop.
pub(crate) struct Pkey(*mut sys::EVP_PKEY);

// SAFETY: a `Pkey` owns its `EVP_PKEY` alone, and every method here takes `&self` and only
// reads the key: signing makes a fresh `EVP_PKEY_CTX` per call (which takes its own reference,
// counted atomically by aws-lc); aws-lc guards the RSA key's lazily built Montgomery and
// blinding state with the key's own lock, and an EC key is not changed by signing. So one
// key may be used from several threads at once and freed on any thread, as aws-lc-rs does
// with the `EVP_PKEY` of its own key pairs (which are `Send + Sync`).
unsafe impl Send for Pkey {}
// SAFETY: see `Send` above.
unsafe impl Sync for Pkey {}

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: the pointer came from aws-lc and is owned by this guard alone.
        unsafe { sys::EVP_PKEY_free(self.0) }
    }
}

struct Ctx(*mut sys::EVP_PKEY_CTX);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone.
        unsafe { sys::EVP_PKEY_CTX_free(self.0) }
    }
}

struct Bn(*mut sys::BIGNUM);

impl Bn {
    fn new() -> R<Bn> {
        // SAFETY: plain allocation.
        let p = unsafe { sys::BN_new() };
        if p.is_null() { Err(LcError) } else { Ok(Bn(p)) }
    }

    fn from_be(bytes: &[u8]) -> R<Bn> {
        // SAFETY: `bytes` is valid for its length; a null `ret` asks for a new BIGNUM.
        let p = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        if p.is_null() { Err(LcError) } else { Ok(Bn(p)) }
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone; `BN_clear_free` cleanses before freeing.
        unsafe { sys::BN_clear_free(self.0) }
    }
}

struct BnCtx(*mut sys::BN_CTX);

impl Drop for BnCtx {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone.
        unsafe { sys::BN_CTX_free(self.0) }
    }
}

fn ok(rc: std::os::raw::c_int) -> R<()> {
    if rc == 1 { Ok(()) } else { Err(LcError) }
}

/// The big-endian bytes of `bn` (no leading zeros).
fn bn_bytes(bn: *const sys::BIGNUM) -> R<Vec<u8>> {
    if bn.is_null() {
        return Err(LcError);
    }
    // SAFETY: `bn` is a valid BIGNUM owned by a live key; the buffer is as long as asked.
    unsafe {
        let mut out = vec![0u8; sys::BN_num_bytes(bn) as usize];
        sys::BN_bn2bin(bn, out.as_mut_ptr());
        Ok(out)
    }
}

/// Runs `marshal` into a fresh CBB and returns what it wrote, wiped on drop.
fn marshal(f: impl FnOnce(*mut sys::CBB) -> std::os::raw::c_int) -> R<Zeroizing<Vec<u8>>> {
    // SAFETY: the CBB is initialised before use and cleaned up on failure; on success its
    // buffer is handed to us, copied, cleansed and freed.
    unsafe {
        let mut cbb = std::mem::MaybeUninit::<sys::CBB>::zeroed();
        ok(sys::CBB_init(cbb.as_mut_ptr(), 256))?;
        if f(cbb.as_mut_ptr()) != 1 {
            sys::CBB_cleanup(cbb.as_mut_ptr());
            return Err(LcError);
        }
        let mut data: *mut u8 = ptr::null_mut();
        let mut len = 0usize;
        if sys::CBB_finish(cbb.as_mut_ptr(), &mut data, &mut len) != 1 {
            sys::CBB_cleanup(cbb.as_mut_ptr());
            return Err(LcError);
        }
        let out = Zeroizing::new(std::slice::from_raw_parts(data, len).to_vec());
        sys::OPENSSL_cleanse(data.cast(), len);
        sys::OPENSSL_free(data.cast());
        Ok(out)
    }
}

impl Pkey {
    /// Parses a PKCS#8 private key.
    pub(crate) fn from_pkcs8(der: &[u8]) -> R<Pkey> {
        // SAFETY: the CBS borrows `der` for the call only.
        unsafe {
            let mut cbs = sys::CBS {
                data: ptr::null(),
                len: 0,
            };
            sys::CBS_init(&mut cbs, der.as_ptr(), der.len());
            let p = sys::EVP_parse_private_key(&mut cbs);
            if p.is_null() || cbs.len != 0 {
                if !p.is_null() {
                    sys::EVP_PKEY_free(p);
                }
                return Err(LcError);
            }
            Ok(Pkey(p))
        }
    }

    /// The key's PKCS#8 DER, wiped on drop.
    pub(crate) fn to_pkcs8(&self) -> R<Zeroizing<Vec<u8>>> {
        // SAFETY: `self.0` is a valid key.
        marshal(|cbb| unsafe { sys::EVP_marshal_private_key(cbb, self.0) })
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub(crate) fn spki(&self) -> R<Vec<u8>> {
        // SAFETY: `self.0` is a valid key.
        Ok(marshal(|cbb| unsafe { sys::EVP_marshal_public_key(cbb, self.0) })?.to_vec())
    }

    /// The key size in bits.
    pub(crate) fn bits(&self) -> usize {
        // SAFETY: `self.0` is a valid key.
        unsafe { sys::EVP_PKEY_bits(self.0) as usize }
    }

    /// An RSA key's modulus and public exponent, big-endian.
    pub(crate) fn rsa_public(&self) -> R<(Vec<u8>, Vec<u8>)> {
        // SAFETY: get0 pointers borrow from the live key.
        unsafe {
            let rsa = sys::EVP_PKEY_get0_RSA(self.0);
            if rsa.is_null() {
                return Err(LcError);
            }
            Ok((
                bn_bytes(sys::RSA_get0_n(rsa))?,
                bn_bytes(sys::RSA_get0_e(rsa))?,
            ))
        }
    }

    /// Signs `input` with no hashing: `Pkcs1` pads a DigestInfo as EMSA-PKCS1-v1_5, `Pss`
    /// encodes a digest of `md`'s length as EMSA-PSS (salt as long as the digest, MGF1 with
    /// the same hash), `Ecdsa` signs a digest and answers DER.
    pub(crate) fn sign_digest(&self, how: DigestSign, input: &[u8]) -> R<Vec<u8>> {
        // SAFETY: the context is owned by a guard; buffers are sized by aws-lc's first call.
        unsafe {
            let ctx = sys::EVP_PKEY_CTX_new(self.0, ptr::null_mut());
            if ctx.is_null() {
                return Err(LcError);
            }
            let ctx = Ctx(ctx);
            ok(sys::EVP_PKEY_sign_init(ctx.0))?;
            match how {
                DigestSign::Pkcs1 => {
                    ok(sys::EVP_PKEY_CTX_set_rsa_padding(
                        ctx.0,
                        sys::RSA_PKCS1_PADDING,
                    ))?;
                }
                DigestSign::Pss(md) => {
                    ok(sys::EVP_PKEY_CTX_set_rsa_padding(
                        ctx.0,
                        sys::RSA_PKCS1_PSS_PADDING,
                    ))?;
                    let md = md.evp();
                    ok(sys::EVP_PKEY_CTX_set_signature_md(ctx.0, md))?;
                    ok(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.0, md))?;
                    ok(sys::EVP_PKEY_CTX_set_rsa_pss_saltlen(
                        ctx.0,
                        sys::RSA_PSS_SALTLEN_DIGEST,
                    ))?;
                }
                DigestSign::Ecdsa => {}
            }
            let mut len = 0usize;
            ok(sys::EVP_PKEY_sign(
                ctx.0,
                ptr::null_mut(),
                &mut len,
                input.as_ptr(),
                input.len(),
            ))?;
            let mut sig = vec![0u8; len];
            ok(sys::EVP_PKEY_sign(
                ctx.0,
                sig.as_mut_ptr(),
                &mut len,
                input.as_ptr(),
                input.len(),
            ))?;
            sig.truncate(len);
            Ok(sig)
        }
    }
}

/// How [`Pkey::sign_digest`] treats its input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DigestSign {
    Pkcs1,
    Pss(Md),
    Ecdsa,
}

/// How [`Pkey::decrypt`] removes the padding: not at all (RAW; also the first step of PKCS#1
/// v1.5, whose padding [`super::crypt`] checks itself, with implicit rejection), or EME-OAEP
/// with the hash for both OAEP and MGF1 and the empty label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Decrypt {
    Raw,
    Oaep(Md),
}

impl Pkey {
    /// Decrypts an RSA ciphertext of exactly the modulus length (the caller checks the length
    /// and, for RAW, that it is less than the modulus). aws-lc blinds the private operation.
    pub(crate) fn decrypt(&self, how: Decrypt, input: &[u8]) -> R<Zeroizing<Vec<u8>>> {
        // SAFETY: the context is owned by a guard; the output buffer is the modulus length,
        // as long as any plaintext can be, and aws-lc is told so.
        unsafe {
            let ctx = sys::EVP_PKEY_CTX_new(self.0, ptr::null_mut());
            if ctx.is_null() {
                return Err(LcError);
            }
            let ctx = Ctx(ctx);
            ok(sys::EVP_PKEY_decrypt_init(ctx.0))?;
            match how {
                Decrypt::Raw => {
                    ok(sys::EVP_PKEY_CTX_set_rsa_padding(
                        ctx.0,
                        sys::RSA_NO_PADDING,
                    ))?;
                }
                Decrypt::Oaep(md) => {
                    ok(sys::EVP_PKEY_CTX_set_rsa_padding(
                        ctx.0,
                        sys::RSA_PKCS1_OAEP_PADDING,
                    ))?;
                    ok(sys::EVP_PKEY_CTX_set_rsa_oaep_md(ctx.0, md.evp()))?;
                    ok(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.0, md.evp()))?;
                }
            }
            let size = usize::try_from(sys::EVP_PKEY_size(self.0)).map_err(|_| LcError)?;
            let mut out = Zeroizing::new(vec![0u8; size]);
            let mut len = size;
            ok(sys::EVP_PKEY_decrypt(
                ctx.0,
                out.as_mut_ptr(),
                &mut len,
                input.as_ptr(),
                input.len(),
            ))?;
            out.truncate(len);
            Ok(out)
        }
    }

    /// An RSA key's private exponent, big-endian, left-padded to `len` bytes (the input of
    /// the implicit-rejection key derivation), wiped on drop.
    pub(crate) fn rsa_private_exponent(&self, len: usize) -> R<Zeroizing<Vec<u8>>> {
        // SAFETY: get0 pointers borrow from the live key; the buffer is `len` bytes long.
        unsafe {
            let rsa = sys::EVP_PKEY_get0_RSA(self.0);
            if rsa.is_null() {
                return Err(LcError);
            }
            let d = sys::RSA_get0_d(rsa);
            if d.is_null() {
                return Err(LcError);
            }
            let mut out = Zeroizing::new(vec![0u8; len]);
            ok(sys::BN_bn2bin_padded(out.as_mut_ptr(), len, d))?;
            Ok(out)
        }
    }
}

/// The hashes of the PSS modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Md {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Md {
    pub(crate) fn len(self) -> usize {
        match self {
            Md::Md5 => 16,
            Md::Sha1 => 20,
            Md::Sha224 => 28,
            Md::Sha256 => 32,
            Md::Sha384 => 48,
            Md::Sha512 => 64,
        }
    }

    fn evp(self) -> *const sys::EVP_MD {
        // SAFETY: these return static tables.
        unsafe {
            match self {
                Md::Md5 => sys::EVP_md5(),
                Md::Sha1 => sys::EVP_sha1(),
                Md::Sha224 => sys::EVP_sha224(),
                Md::Sha256 => sys::EVP_sha256(),
                Md::Sha384 => sys::EVP_sha384(),
                Md::Sha512 => sys::EVP_sha512(),
            }
        }
    }
}

/// Builds an RSA private key from its primes and public exponent (the NetHSM import format):
/// checks both are (probably) prime, computes `n`, `d` and the CRT values, and answers its
/// PKCS#8 DER (checked by aws-lc).
pub(crate) fn rsa_from_primes(p: &[u8], q: &[u8], e: &[u8]) -> R<Zeroizing<Vec<u8>>> {
    let (p, q, e) = (Bn::from_be(p)?, Bn::from_be(q)?, Bn::from_be(e)?);
    // SAFETY: every BIGNUM is owned by a guard; RSA and EVP_PKEY ownership is passed
    // explicitly (assign takes the RSA on success, and we free it ourselves otherwise).
    unsafe {
        let ctx = sys::BN_CTX_new();
        if ctx.is_null() {
            return Err(LcError);
        }
        let ctx = BnCtx(ctx);
        // aws-lc's key check does not test the primes; a composite one would make a key
        // that fails at its first signature.
        for prime in [&p, &q] {
            let mut probably = 0;
            ok(sys::BN_primality_test(
                &mut probably,
                prime.0,
                sys::BN_prime_checks_for_validation,
                ctx.0,
                1,
                ptr::null_mut(),
            ))?;
            if probably != 1 {
                return Err(LcError);
            }
        }
        let (n, d, p1, q1, phi, dmp1, dmq1, iqmp) = (
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
            Bn::new()?,
        );
        ok(sys::BN_mul(n.0, p.0, q.0, ctx.0))?;
        if sys::BN_copy(p1.0, p.0).is_null() || sys::BN_copy(q1.0, q.0).is_null() {
            return Err(LcError);
        }
        ok(sys::BN_sub_word(p1.0, 1))?;
        ok(sys::BN_sub_word(q1.0, 1))?;
        ok(sys::BN_mul(phi.0, p1.0, q1.0, ctx.0))?;
        if sys::BN_mod_inverse(d.0, e.0, phi.0, ctx.0).is_null()
            || sys::BN_mod_inverse(iqmp.0, q.0, p.0, ctx.0).is_null()
        {
            return Err(LcError);
        }
        ok(sys::BN_div(ptr::null_mut(), dmp1.0, d.0, p1.0, ctx.0))?;
        ok(sys::BN_div(ptr::null_mut(), dmq1.0, d.0, q1.0, ctx.0))?;
        let rsa = sys::RSA_new_private_key(n.0, e.0, d.0, p.0, q.0, dmp1.0, dmq1.0, iqmp.0);
        if rsa.is_null() {
            return Err(LcError);
        }
        if sys::RSA_check_key(rsa) != 1 {
            sys::RSA_free(rsa);
            return Err(LcError);
        }
        let pkey = sys::EVP_PKEY_new();
        if pkey.is_null() {
            sys::RSA_free(rsa);
            return Err(LcError);
        }
        let pkey = Pkey(pkey);
        if sys::EVP_PKEY_assign_RSA(pkey.0, rsa) != 1 {
            sys::RSA_free(rsa);
            return Err(LcError);
        }
        pkey.to_pkcs8()
    }
}
