//! brainpoolP512r1 (RFC 5639 §3.7), for ECDSA.
//!
//! There is no `bp512` crate; this defines the curve from the same RustCrypto building blocks
//! `bp256` and `bp384` are made of: `primefield`'s Montgomery field elements over
//! `crypto-bigint` (its constant-time `bigint` backend; bp256/bp384 default to fiat-crypto
//! code generated for their primes, which no one has generated for this one) and `primeorder`'s
//! complete formulas for prime-order short Weierstrass curves. The constants are RFC 5639's;
//! the unit tests check them against each other and against points pyca/cryptography (OpenSSL)
//! computes.

use elliptic_curve::bigint::{Odd, U512};
use elliptic_curve::consts::U64;
use elliptic_curve::ff::PrimeField;
use elliptic_curve::{CurveArithmetic, PrimeCurveArithmetic, hazmat::FieldArithmetic};
use primeorder::{PrimeCurveParams, mul_backend, point_arithmetic};

/// The prime p.
const MODULUS_HEX: &str = "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3";
/// The order q of the generator (the cofactor is 1).
const ORDER_HEX: &str = "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069";
const ORDER: Odd<U512> = Odd::<U512>::from_be_hex(ORDER_HEX);

/// brainpoolP512r1.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, PartialOrd, Ord)]
pub struct BrainpoolP512r1;

impl elliptic_curve::Curve for BrainpoolP512r1 {
    type FieldBytesSize = U64;
    type Uint = U512;
    const ORDER: Odd<U512> = ORDER;
}

impl elliptic_curve::PrimeCurve for BrainpoolP512r1 {}

impl elliptic_curve::point::PointCompression for BrainpoolP512r1 {
    const COMPRESS_POINTS: bool = false;
}

impl elliptic_curve::pkcs8::AssociatedOid for BrainpoolP512r1 {
    const OID: elliptic_curve::pkcs8::ObjectIdentifier =
        elliptic_curve::pkcs8::ObjectIdentifier::new_unwrap("1.3.36.3.3.2.8.1.1.13");
}

pub use field::FieldElement;
pub use scalar::Scalar;

/// The base field. 2 is the least quadratic non-residue mod p, what square roots need.
mod field {
    // primefield's macros call a crypto-bigint method since deprecated, and use what they need
    // from the caller's scope.
    #![allow(deprecated, unused_imports)]
    use super::MODULUS_HEX;
    use elliptic_curve::bigint::U512;
    use elliptic_curve::ff::PrimeField;
    use elliptic_curve::subtle::{Choice, ConstantTimeEq, CtOption};

    primefield::monty_field_params! {
        name: FieldParams,
        modulus: MODULUS_HEX,
        uint: U512,
        byte_order: primefield::ByteOrder::BigEndian,
        multiplicative_generator: 2,
        doc: "Montgomery parameters for brainpoolP512's field modulus"
    }

    primefield::monty_field_element! {
        name: FieldElement,
        params: FieldParams,
        uint: U512,
        doc: "Element of the brainpoolP512 base field"
    }

    primefield::monty_field_arithmetic! {
        name: FieldElement,
        params: FieldParams,
        uint: U512
    }

    impl elliptic_curve::ops::BatchInvert for FieldElement {}
}

/// The scalar field (mod q). 7 is the least quadratic non-residue mod q.
mod scalar {
    #![allow(deprecated, unused_imports)]
    use super::{BrainpoolP512r1, ORDER, ORDER_HEX};
    use elliptic_curve::bigint::U512;
    use elliptic_curve::ff::PrimeField;
    use elliptic_curve::scalar::{FromUintUnchecked, IsHigh};
    use elliptic_curve::subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, CtOption};
    use primeorder::wnaf;

    primefield::monty_field_params! {
        name: ScalarParams,
        modulus: ORDER_HEX,
        uint: U512,
        byte_order: primefield::ByteOrder::BigEndian,
        multiplicative_generator: 7,
        doc: "Montgomery parameters for brainpoolP512's scalar modulus"
    }

    primefield::monty_field_element! {
        name: Scalar,
        params: ScalarParams,
        uint: U512,
        doc: "Element of the brainpoolP512 scalar field"
    }

    primefield::monty_field_arithmetic! {
        name: Scalar,
        params: ScalarParams,
        uint: U512
    }

    primefield::monty_field_reduce! {
        name: Scalar,
        params: ScalarParams,
        uint: U512,
    }

    elliptic_curve::scalar_impls!(BrainpoolP512r1, Scalar);
    wnaf::impl_wnaf_size_for_scalar!(Scalar);

    impl AsRef<Scalar> for Scalar {
        fn as_ref(&self) -> &Scalar {
            self
        }
    }

    impl FromUintUnchecked for Scalar {
        type Uint = U512;

        fn from_uint_unchecked(uint: Self::Uint) -> Self {
            Self::from_uint_unchecked(uint)
        }
    }

    impl IsHigh for Scalar {
        fn is_high(&self) -> Choice {
            const HALF: U512 = ORDER.as_ref().shr_vartime(1);
            self.to_canonical().ct_gt(&HALF)
        }
    }
}

pub type AffinePoint = primeorder::AffinePoint<BrainpoolP512r1>;
pub type ProjectivePoint = primeorder::ProjectivePoint<BrainpoolP512r1>;

impl CurveArithmetic for BrainpoolP512r1 {
    type AffinePoint = AffinePoint;
    type ProjectivePoint = ProjectivePoint;
    type Scalar = Scalar;
}

impl FieldArithmetic for BrainpoolP512r1 {
    type FieldElement = FieldElement;
}

impl PrimeCurveArithmetic for BrainpoolP512r1 {
    type CurveGroup = ProjectivePoint;
}

impl PrimeCurveParams for BrainpoolP512r1 {
    type PointArithmetic = point_arithmetic::EquationAIsGeneric;
    type Backend = mul_backend::VariableOnly;

    const EQUATION_A: FieldElement = FieldElement::from_hex_vartime(
        "7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca",
    );
    const EQUATION_B: FieldElement = FieldElement::from_hex_vartime(
        "3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723",
    );
    const GENERATOR: (FieldElement, FieldElement) = (
        FieldElement::from_hex_vartime(
            "81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822",
        ),
        FieldElement::from_hex_vartime(
            "7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892",
        ),
    );
}

impl ecdsa::EcdsaCurve for BrainpoolP512r1 {
    const NORMALIZE_S: bool = false;
}

/// RFC 6979 nonces are derived with HMAC-SHA-512, the hash of the curve's size.
impl ecdsa::DigestAlgorithm for BrainpoolP512r1 {
    type Digest = sha2::Sha512;
}

// `PrimeField` is what `from_hex_vartime` and the tests lean on.
const _: fn() = || {
    fn is_prime_field<F: PrimeField>() {}
    is_prime_field::<FieldElement>();
    is_prime_field::<Scalar>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use elliptic_curve::Group;
    use elliptic_curve::sec1::ToSec1Point;

    mod field_tests {
        use super::super::FieldElement;
        use elliptic_curve::bigint::U512;
        primefield::test_primefield!(FieldElement, U512);
    }

    mod scalar_tests {
        use super::super::Scalar;
        use elliptic_curve::bigint::U512;
        primefield::test_primefield!(Scalar, U512);
    }

    /// The generator is on the curve (y² = x³ + ax + b) and has order q.
    #[test]
    fn domain_parameters() {
        let (x, y) = BrainpoolP512r1::GENERATOR;
        let a = BrainpoolP512r1::EQUATION_A;
        let b = BrainpoolP512r1::EQUATION_B;
        assert_eq!(y.square(), x.square() * x + a * x + b);
        let g = ProjectivePoint::generator();
        let q_minus_1 = -Scalar::ONE;
        assert_eq!(g * q_minus_1, -g);
        assert!(bool::from((g * q_minus_1 + g).is_identity()));
        // Non-singular: 4A³ + 27B² ≠ 0.
        let four = FieldElement::from_u64(4);
        let twenty_seven = FieldElement::from_u64(27);
        assert!(!bool::from(
            (four * a.square() * a + twenty_seven * b.square()).is_zero()
        ));
    }

    /// (k, k·G uncompressed), from `ec.derive_private_key(k, ec.BrainpoolP512R1())`.
    const OPENSSL_POINTS: [(&str, &str); 3] = [
        (
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002",
            "049f4945f680edf9800a63285758f399b3d18d8141b8a18064a30d3035f4cb6581957877f3a8f0f72597116e702915a4f4f698f404089a4cc5080447def02f48506d6b4b188b699c5649826b716292f29d149ce1238d3f1e0f5a2c366b03e5d1b2fdf99bb1709c700fa5c3b602b0960cbf63a42e4181fd929ce269ad21be592e71",
        ),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "0472f4a8ebcd121cf53409101f24bc9b7f048d815b328e3faa09c445402fa64688d1492e2d627cc24b5d3a0e149d29b5927d30b314585c0cd045a95e5146e014d25103f7cb1c6adf6fb3069e87ffaec2f0dffe871a06a5ca3ebab93d7569ae011eaef6097895bf8decca5bfd3d627a66d7bc968274ac08af476a8f537aeaf5f0a3",
        ),
        (
            "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90067",
            "049f4945f680edf9800a63285758f399b3d18d8141b8a18064a30d3035f4cb6581957877f3a8f0f72597116e702915a4f4f698f404089a4cc5080447def02f48503d7252a050802834f6527b3cd137096ab693ac90268ab3ff7c37665f6c4d36be7f53ff4f2b29f8330909eb28360d7426c4ddd0edab8533e84640b33499e11a82",
        ),
    ];

    /// k·G for scalars pyca/cryptography (OpenSSL's brainpoolP512r1) was asked about.
    #[test]
    fn points_match_openssl() {
        for (k, point) in OPENSSL_POINTS {
            let k = Scalar::from_slice(&hex::decode(k).unwrap()).unwrap();
            let p = (ProjectivePoint::generator() * k).to_affine();
            assert_eq!(hex::encode(p.to_sec1_point(false).as_bytes()), *point);
        }
    }
}
