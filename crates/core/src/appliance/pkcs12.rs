//! Reading a PKCS#12 file (the appliance face's `pkcs12_format`) with aws-lc, through
//! `aws-lc-sys` (aws-lc-rs has no safe API for it): its private key as PKCS#8 and its
//! certificates as DER. Every pointer is owned by a guard that frees it on every path; the
//! key is freed by aws-lc's own free function, which cleanses it. Errors say nothing about
//! the file's content.

use std::ffi::CString;
use std::ptr;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What a PKCS#12 file holds.
pub(crate) struct Pkcs12 {
    pub key_pkcs8: Zeroizing<Vec<u8>>,
    /// In the file's order.
    pub certificates: Vec<Vec<u8>>,
}

struct Key(*mut sys::EVP_PKEY);

impl Drop for Key {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: owned by this guard alone; EVP_PKEY_free cleanses the key.
            unsafe { sys::EVP_PKEY_free(self.0) }
        }
    }
}

struct Certs(*mut sys::OPENSSL_STACK);

impl Drop for Certs {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone; each element is an X509 the stack owns.
        unsafe {
            for i in 0..sys::OPENSSL_sk_num(self.0) {
                sys::X509_free(sys::OPENSSL_sk_value(self.0, i).cast());
            }
            sys::OPENSSL_sk_free(self.0);
        }
    }
}

fn refused() -> Error {
    Error::InvalidInput(
        "pkcs12_format: not a PKCS#12 file with a private key that this password opens.".into(),
    )
}

/// Opens `der` with `password`.
pub(crate) fn parse(der: &[u8], password: &str) -> Result<Pkcs12> {
    let password = Zeroizing::new(
        CString::new(password)
            .map_err(|_| Error::InvalidInput("pkcs12_format: the password has a NUL.".into()))?
            .into_bytes_with_nul(),
    );
    // SAFETY: the CBS borrows `der` for the call; the stack and the key are owned by guards;
    // the password is a NUL-terminated buffer alive for the call.
    unsafe {
        let certs = Certs(sys::OPENSSL_sk_new_null());
        if certs.0.is_null() {
            return Err(Error::Internal("aws-lc could not allocate".into()));
        }
        let mut cbs = sys::CBS {
            data: ptr::null(),
            len: 0,
        };
        sys::CBS_init(&mut cbs, der.as_ptr(), der.len());
        let mut key = Key(ptr::null_mut());
        let ok = sys::PKCS12_get_key_and_certs(
            &mut key.0,
            certs.0.cast(),
            &mut cbs,
            password.as_ptr().cast(),
        );
        if ok != 1 || key.0.is_null() {
            sys::ERR_clear_error();
            return Err(refused());
        }
        let mut certificates = Vec::new();
        for i in 0..sys::OPENSSL_sk_num(certs.0) {
            let x509: *mut sys::X509 = sys::OPENSSL_sk_value(certs.0, i).cast();
            let len = sys::i2d_X509(x509, ptr::null_mut());
            if len <= 0 {
                return Err(refused());
            }
            let mut out = vec![0u8; len as usize];
            let mut p = out.as_mut_ptr();
            if sys::i2d_X509(x509, &mut p) != len {
                return Err(refused());
            }
            certificates.push(out);
        }
        Ok(Pkcs12 {
            key_pkcs8: pkcs8_of(&key)?,
            certificates,
        })
    }
}

/// The key as PKCS#8 DER, wiped on drop.
fn pkcs8_of(key: &Key) -> Result<Zeroizing<Vec<u8>>> {
    let failed = || Error::Internal("aws-lc could not write the key".into());
    // SAFETY: the CBB is initialised before use and cleaned up on failure; on success its
    // buffer is handed to us, copied, cleansed and freed.
    unsafe {
        let mut cbb = std::mem::MaybeUninit::<sys::CBB>::zeroed();
        if sys::CBB_init(cbb.as_mut_ptr(), 256) != 1 {
            return Err(failed());
        }
        if sys::EVP_marshal_private_key(cbb.as_mut_ptr(), key.0) != 1 {
            sys::CBB_cleanup(cbb.as_mut_ptr());
            return Err(failed());
        }
        let mut data: *mut u8 = ptr::null_mut();
        let mut len = 0usize;
        if sys::CBB_finish(cbb.as_mut_ptr(), &mut data, &mut len) != 1 {
            sys::CBB_cleanup(cbb.as_mut_ptr());
            return Err(failed());
        }
        let out = Zeroizing::new(std::slice::from_raw_parts(data, len).to_vec());
        sys::OPENSSL_cleanse(data.cast(), len);
        sys::OPENSSL_free(data.cast());
        Ok(out)
    }
}
