//! `resource.Quantity`: `100m`, `0.5`, `1Gi`, `1e3`, parsed, compared, added and formatted
//! canonically as apimachinery does.
//!
//! # Syntax
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | "+" <number> | "-" <number>
//! <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
//! ```
//!
//! # Value and range
//!
//! A quantity is an exact decimal `mantissa × 10^exponent` with a 128-bit mantissa of at most
//! 38 significant digits and an exponent of at least −9 (nano). As in apimachinery:
//!
//! - parsing rounds a non-zero value finer than `1n` away from zero (`0.9n` is `1n`,
//!   `3.001n` is `4n`);
//! - a `BinarySI` quantity (`Ki`…`Ei`) is capped at 2^63−1 (`9Ei` parses as
//!   `9223372036854775807`); decimal quantities are not capped (`1e30` keeps its value).
//!
//! Every quantity with at most 38 significant digits between its highest digit and its `1n`
//! digit is therefore exact: anything below 10^29 at nano precision, every `int64` count of
//! bytes, milli-cores or nano-units, and sums of such values. Beyond that (more digits than
//! apimachinery's arbitrary-precision `inf.Dec` would keep), parsing rounds away from zero and
//! arithmetic rounds half away from zero to 38 significant digits. Exponents above 10^9 are
//! rejected with [`Error::OutOfRange`] (apimachinery silently wraps them to 32 bits).
//!
//! # Formatting and round trips
//!
//! [`Display`](std::fmt::Display) and serialization produce apimachinery's `String()`:
//!
//! - A quantity remembers the kind of suffix it was parsed with ([`Format`]) and is printed in
//!   canonical form in that format: the largest suffix (exponent a multiple of 3 for decimal,
//!   a power of 1024 for binary) that leaves an integer mantissa: `1.5` → `1500m`,
//!   `1.5Gi` → `1536Mi`, `1024Mi` → `1Gi`, `1000M` → `1G`, `0.5` → `500m`, `1e3` → `1e3`.
//! - A `BinarySI` value that is below 1024 in magnitude or not an integer is printed as
//!   `DecimalSI` (`0.5Ki` → `512`, `1.1Ki` → `1126400m`); a decimal exponent beyond `E`
//!   falls back to exponent notation (`1000E` → `1e21`).
//! - Like apimachinery, parsing keeps the text the user wrote when it is already in the
//!   simple form its fast path recognises (`100m`, `129M`, `1Ki`, `1e3`, and quirkily also
//!   `+1`, `1E3` or `5.`); otherwise the quantity is re-emitted canonically, so `"0.5"`
//!   serializes as `"500m"` and `"1.5Gi"` as `"1536Mi"`. Any arithmetic drops the kept text.
//!
//! Equality, ordering and hashing look at the value only: `1Gi == 1073741824` and
//! `1 == 1000m`.
//!
//! # Serde
//!
//! A quantity serializes as a JSON string. It deserializes from a string (surrounding
//! whitespace trimmed, as apimachinery's `UnmarshalJSON` does), from a JSON number
//! (`cpu: 1`, `memory: 1e9`, `cpu: 0.5`) or from `null` (zero). A float arrives through serde
//! as an `f64` without its original text, so `1e9` is read as `1000000000` and printed `1G`
//! where apimachinery would print `1e9`; the value is the same. A JSON number with more than
//! 15 significant digits is only as precise as an `f64`: clients send quantities as strings.
//!
//! ```
//! use kubox_core::Quantity;
//!
//! let q: Quantity = "1.5Gi".parse().unwrap();
//! assert_eq!(q.to_string(), "1536Mi");
//! assert_eq!(q, "1610612736".parse::<Quantity>().unwrap());
//! assert_eq!("100m".parse::<Quantity>().unwrap().milli_value(), 100);
//! let total: Quantity = ["250m", "0.5", "1"].iter().map(|s| s.parse::<Quantity>().unwrap()).sum();
//! assert_eq!(total.to_string(), "1750m");
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The regular expression quoted by [`Error::FormatWrong`], as apimachinery spells it.
const SPLIT_RE: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// The largest exponent a parsed quantity may have (apimachinery wraps larger ones to 32 bits).
const MAX_EXPONENT: i64 = 1_000_000_000;

/// The smallest exponent: values are kept down to nano (10^-9).
const NANO: i64 = -9;

/// Mantissas hold at most this many decimal digits.
const MAX_DIGITS: u32 = 38;

/// The `BinarySI` cap, 2^63 − 1.
const MAX_BINARY: i128 = i64::MAX as i128;

/// Why a string is not a quantity.
///
/// None of these is retryable: the input has to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The string is empty or not of the form number + suffix (apimachinery's `ErrFormatWrong`).
    #[error("quantities must match the regular expression '{SPLIT_RE}'")]
    FormatWrong,
    /// The number has no digits where apimachinery needs some (apimachinery's `ErrNumeric`).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not one of the known ones (apimachinery's `ErrSuffix`).
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The decimal exponent is beyond what this implementation represents (see the module docs).
    #[error("quantity is out of range: the decimal exponent must be at most {MAX_EXPONENT}")]
    OutOfRange,
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The three ways of writing a quantity; a parsed quantity keeps the one it was written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// A decimal exponent: `12e6`.
    DecimalExponent,
    /// A binary SI suffix: `12Mi` (12 × 2^20).
    #[doc(alias = "BinarySI")]
    BinarySi,
    /// A decimal SI suffix: `12M` (12 × 10^6), `500m`.
    #[default]
    #[doc(alias = "DecimalSI")]
    DecimalSi,
}

/// An exact decimal `m × 10^e`, normalized: `m` has no trailing zero digit (zero is `0 × 10^0`),
/// `|m| < 10^38` and `e >= -9`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Amount {
    m: i128,
    e: i32,
}

const ZERO: Amount = Amount { m: 0, e: 0 };

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// Number of decimal digits of `v` (0 for 0).
fn digit_count(v: u128) -> u32 {
    if v == 0 {
        0
    } else {
        v.ilog10() + 1
    }
}

/// Divides `m` by `10^k`, rounding half away from zero.
fn div_round_half_away(m: i128, k: u32) -> i128 {
    let Some(p) = pow10(k).and_then(|p| i128::try_from(p).ok()) else {
        return 0;
    };
    let (q, r) = (m / p, m % p);
    if r.unsigned_abs() * 2 >= p.unsigned_abs() {
        q + m.signum()
    } else {
        q
    }
}

impl Amount {
    /// Normalizes `m × 10^e`, rounding half away from zero to 38 significant digits.
    fn new(mut m: i128, mut e: i64) -> Amount {
        if m == 0 {
            return ZERO;
        }
        let digits = digit_count(m.unsigned_abs());
        if digits > MAX_DIGITS {
            let k = digits - MAX_DIGITS;
            m = div_round_half_away(m, k);
            e += i64::from(k);
        }
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let e = i32::try_from(e).expect("quantity exponent overflows 32 bits");
        Amount { m, e }
    }

    fn is_zero(self) -> bool {
        self.m == 0
    }

    fn neg(self) -> Amount {
        Amount {
            m: -self.m,
            e: self.e,
        }
    }

    /// The order of magnitude: `digits + e` (the value is below `10^order`).
    fn order(self) -> i64 {
        i64::from(digit_count(self.m.unsigned_abs())) + i64::from(self.e)
    }

    fn cmp_magnitude(self, other: Amount) -> Ordering {
        let (a, b) = (self.m.unsigned_abs(), other.m.unsigned_abs());
        match (a == 0, b == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        match self.order().cmp(&other.order()) {
            Ordering::Equal => {}
            o => return o,
        }
        // Same order of magnitude: aligning the larger exponent down keeps at most 38 digits.
        let shift = self.e.abs_diff(other.e);
        let p = pow10(shift).expect("aligned mantissas have at most 38 digits");
        if self.e >= other.e {
            (a * p).cmp(&b)
        } else {
            a.cmp(&(b * p))
        }
    }

    fn add(self, other: Amount) -> Amount {
        if self.is_zero() {
            return other;
        }
        if other.is_zero() {
            return self;
        }
        let (hi, lo) = if self.e >= other.e {
            (self, other)
        } else {
            (other, self)
        };
        let shift = hi.e.abs_diff(lo.e);
        let exact = pow10(shift)
            .and_then(|p| i128::try_from(p).ok())
            .and_then(|p| hi.m.checked_mul(p))
            .and_then(|h| h.checked_add(lo.m));
        if let Some(sum) = exact {
            return Amount::new(sum, i64::from(lo.e));
        }
        // Too many digits for an exact sum: round both operands (half away from zero) to the
        // exponent that leaves the larger one 38 digits, or 37 if the sum would overflow.
        let hi_digits = i64::from(digit_count(hi.m.unsigned_abs()));
        for extra in 0..=1 {
            let target = (i64::from(hi.e) - (i64::from(MAX_DIGITS) - hi_digits) + extra)
                .max(i64::from(lo.e));
            let h = if target <= i64::from(hi.e) {
                let up = u32::try_from(i64::from(hi.e) - target).unwrap_or(0);
                hi.m * 10i128.pow(up)
            } else {
                div_round_half_away(
                    hi.m,
                    u32::try_from(target - i64::from(hi.e)).unwrap_or(u32::MAX),
                )
            };
            let l = div_round_half_away(
                lo.m,
                u32::try_from(target - i64::from(lo.e)).unwrap_or(u32::MAX),
            );
            if let Some(sum) = h.checked_add(l) {
                return Amount::new(sum, target);
            }
        }
        unreachable!("two mantissas of at most 37 digits add without overflow")
    }

    fn mul(self, y: i64) -> Amount {
        let y = i128::from(y);
        if let Some(p) = self.m.checked_mul(y) {
            return Amount::new(p, i64::from(self.e));
        }
        // Keep 19 significant digits of the mantissa so that the product fits.
        let k = digit_count(self.m.unsigned_abs()).saturating_sub(19);
        let m = div_round_half_away(self.m, k);
        Amount::new(m * y, i64::from(self.e) + i64::from(k))
    }

    /// `ceil(self / 10^scale)` rounded away from zero, saturated to `i64`.
    fn scaled_value(self, scale: i32) -> i64 {
        if self.is_zero() {
            return 0;
        }
        let saturate = |negative: bool| if negative { i64::MIN } else { i64::MAX };
        let e = i64::from(self.e) - i64::from(scale);
        if e >= 0 {
            let v = u32::try_from(e)
                .ok()
                .and_then(pow10)
                .and_then(|p| i128::try_from(p).ok())
                .and_then(|p| self.m.checked_mul(p));
            return v
                .and_then(|v| i64::try_from(v).ok())
                .unwrap_or(saturate(self.m < 0));
        }
        let k = u32::try_from(-e).unwrap_or(u32::MAX);
        let (q, r) = match pow10(k).and_then(|p| i128::try_from(p).ok()) {
            Some(p) => (self.m / p, self.m % p),
            None => (0, self.m),
        };
        let q = if r != 0 { q + self.m.signum() } else { q };
        i64::try_from(q).unwrap_or(saturate(self.m < 0))
    }

    /// The canonical base-10 mantissa and an exponent that is a multiple of 3.
    fn canonical_decimal(self) -> (String, i64) {
        let r = self.e.rem_euclid(3);
        let mut digits = self.m.unsigned_abs().to_string();
        for _ in 0..r {
            digits.push('0');
        }
        (digits, i64::from(self.e) - i64::from(r))
    }

    /// The integer magnitude, if the value is an integer that fits in 128 bits.
    fn as_integer_magnitude(self) -> Option<u128> {
        let e = u32::try_from(self.e).ok()?;
        self.m.unsigned_abs().checked_mul(pow10(e)?)
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.m.signum().cmp(&other.m.signum()) {
            Ordering::Equal => {}
            o => return o,
        }
        if self.m >= 0 {
            self.cmp_magnitude(*other)
        } else {
            other.cmp_magnitude(*self)
        }
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `resource.Quantity`: a fixed-point number with a suffix (`100m`, `1Gi`, `1e3`).
///
/// See the [module docs](self) for the syntax, the exact range, the canonical form and how
/// the text a user wrote survives a round trip.
#[derive(Clone, Default)]
pub struct Quantity {
    amount: Amount,
    format: Format,
    /// The text as parsed, kept when apimachinery would keep it (already canonical-looking).
    text: Option<Box<str>>,
}

impl Default for Amount {
    fn default() -> Self {
        ZERO
    }
}

/// What the scanner finds in a quantity string (apimachinery's `parseQuantityString`).
struct Scanned<'a> {
    negative: bool,
    /// Integer digits with leading zeros stripped (empty for zero).
    num: &'a str,
    /// Fractional digits as written.
    denom: &'a str,
    suffix: &'a str,
    /// Whether the number part has any digit (`.` or `-` alone has none).
    has_digits: bool,
}

fn scan(s: &str) -> Result<Scanned<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut negative = false;
    match b.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let digits_start = pos;
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos == end {
        // Only a sign and zeros (or nothing): apimachinery reads this as zero.
        return Ok(Scanned {
            negative,
            num: "",
            denom: "",
            suffix: "",
            has_digits: true,
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = &s[num_start..pos];
    let mut has_digits = pos > digits_start;
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
        has_digits |= !denom.is_empty();
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(Error::FormatWrong);
    }
    Ok(Scanned {
        negative,
        num,
        denom,
        suffix: &s[suffix_start..],
        has_digits,
    })
}

/// Base, exponent and format of a suffix (apimachinery's `quantitySuffixer.interpret`).
fn interpret(suffix: &str) -> Result<(u32, i64, Format)> {
    let decimal = |e| Ok((10, e, Format::DecimalSi));
    let binary = |e| Ok((2, e, Format::BinarySi));
    match suffix {
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E']).filter(|r| !r.is_empty());
            let exponent: i64 = rest.and_then(|r| r.parse().ok()).ok_or(Error::Suffix)?;
            if i32::try_from(exponent).is_err() {
                return Err(Error::OutOfRange);
            }
            Ok((10, exponent, Format::DecimalExponent))
        }
    }
}

/// Multiplies a big-endian decimal digit vector by a small factor.
fn mul_digits(digits: &mut Vec<u8>, factor: u32) {
    let mut carry = 0u64;
    for d in digits.iter_mut().rev() {
        let v = u64::from(*d) * u64::from(factor) + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// Adds one unit in the last place of a big-endian decimal digit vector.
fn increment_digits(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

/// Drops the last `k` digits (all non-zero beyond the first, see callers), rounding the
/// magnitude up when any dropped digit is non-zero.
fn drop_digits_round_up(digits: &mut Vec<u8>, exponent: &mut i64, k: usize) {
    if k == 0 {
        return;
    }
    let nonzero = if k >= digits.len() {
        let nonzero = digits.iter().any(|&d| d != 0);
        digits.clear();
        nonzero
    } else {
        digits.split_off(digits.len() - k).iter().any(|&d| d != 0)
    };
    *exponent += k as i64;
    if nonzero {
        increment_digits(digits);
    }
}

fn trim_digits(digits: &mut Vec<u8>, exponent: &mut i64) {
    while digits.last() == Some(&0) {
        digits.pop();
        *exponent += 1;
    }
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
}

impl Quantity {
    /// Parses a quantity (apimachinery's `ParseQuantity`); see the [module docs](self).
    ///
    /// Leading or trailing whitespace is an error here (deserialization trims it first).
    #[doc(alias = "ParseQuantity")]
    #[doc(alias = "MustParse")]
    pub fn parse(s: &str) -> Result<Quantity> {
        if s.is_empty() {
            return Err(Error::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity {
                amount: ZERO,
                format: Format::DecimalSi,
                text: Some(s.into()),
            });
        }
        let scanned = scan(s)?;
        let (base, exponent, mut format) = interpret(scanned.suffix)?;
        let num = if scanned.num.is_empty() {
            "0"
        } else {
            scanned.num
        };
        let denom = scanned.denom;
        let denom_len = denom.len() as i64;

        // apimachinery's int64 fast path: it decides whether the text is kept as written.
        let (fast, keep_text) = match format {
            Format::DecimalSi | Format::DecimalExponent => {
                let scale = exponent - denom_len;
                if num.len() + denom.len() <= 18 && scale >= NANO {
                    // Kept unless the digits (`num` + `denom`) end in `000` or start with `0`.
                    let trailing_zeros = num.bytes().chain(denom.bytes()).rev().take(3);
                    let keep = scale % 3 == 0
                        && trailing_zeros.filter(|&c| c == b'0').count() < 3
                        && !num.starts_with('0');
                    (true, keep)
                } else {
                    (false, false)
                }
            }
            Format::BinarySi => {
                let precision = 15 - num.len() as i64 - exponent * 3 / 10 - 1;
                if denom.is_empty() && precision >= 0 {
                    let value: i64 = num.parse().map_err(|_| Error::Numeric)?;
                    (true, value & 0x07 != 0)
                } else {
                    (false, false)
                }
            }
        };
        if !fast && !scanned.has_digits {
            return Err(Error::Numeric);
        }

        // The exact value: digits × 10^e10 (× 2^exponent for binary suffixes).
        let mut digits: Vec<u8> = scanned
            .num
            .bytes()
            .chain(denom.bytes())
            .map(|c| c - b'0')
            .collect();
        let mut e10 = -denom_len;
        if base == 10 {
            e10 += exponent;
        } else {
            for _ in 0..exponent / 10 {
                mul_digits(&mut digits, 1024);
            }
        }
        trim_digits(&mut digits, &mut e10);
        if e10 < NANO {
            // Round a non-zero value finer than nano away from zero.
            let k = usize::try_from(NANO - e10).unwrap_or(usize::MAX);
            drop_digits_round_up(&mut digits, &mut e10, k);
            trim_digits(&mut digits, &mut e10);
        }
        if format == Format::BinarySi && !digits.is_empty() {
            let int_digits = digits.len() as i64 + e10;
            if int_digits > 19 || nanos(&digits, e10) > MAX_BINARY * 1_000_000_000 {
                digits = MAX_BINARY.to_string().bytes().map(|c| c - b'0').collect();
                e10 = 0;
            } else if int_digits <= 0 {
                // A non-zero binary value below 1 is kept as DecimalSI.
                format = Format::DecimalSi;
            }
        }
        if digits.len() > MAX_DIGITS as usize {
            let k = digits.len() - MAX_DIGITS as usize;
            drop_digits_round_up(&mut digits, &mut e10, k);
            trim_digits(&mut digits, &mut e10);
        }
        if e10 > MAX_EXPONENT {
            return Err(Error::OutOfRange);
        }
        let mut m: i128 = digits.iter().fold(0, |acc, &d| acc * 10 + i128::from(d));
        if scanned.negative {
            m = -m;
        }
        let amount = Amount::new(m, e10);
        let text = keep_text.then(|| s.into());
        Ok(Quantity {
            amount,
            format,
            text,
        })
    }

    /// `value` in the given format (apimachinery's `NewQuantity`).
    #[doc(alias = "NewQuantity")]
    pub fn new(value: i64, format: Format) -> Quantity {
        Quantity::from_scaled_with_format(value, 0, format)
    }

    /// `value / 1000` in the given format (apimachinery's `NewMilliQuantity`); a `BinarySI`
    /// value that is not an integer prints as `DecimalSI`.
    #[doc(alias = "NewMilliQuantity")]
    pub fn from_milli(value: i64, format: Format) -> Quantity {
        Quantity::from_scaled_with_format(value, -3, format)
    }

    /// `value × 10^scale` as `DecimalSI` (apimachinery's `NewScaledQuantity`): scale −9 is nano,
    /// −3 milli, 3 kilo. A non-zero value finer than nano is rounded away from zero to nano.
    #[doc(alias = "NewScaledQuantity")]
    pub fn from_scaled(value: i64, scale: i32) -> Quantity {
        Quantity::from_scaled_with_format(value, scale, Format::DecimalSi)
    }

    fn from_scaled_with_format(value: i64, scale: i32, format: Format) -> Quantity {
        let mut m = i128::from(value);
        let mut e = i64::from(scale);
        if e < NANO && m != 0 {
            let k = u32::try_from(NANO - e).unwrap_or(u32::MAX);
            let (q, r) = match pow10(k).and_then(|p| i128::try_from(p).ok()) {
                Some(p) => (m / p, m % p),
                None => (0, m),
            };
            m = if r != 0 { q + m.signum() } else { q };
            e = NANO;
        }
        Quantity {
            amount: Amount::new(m, e),
            format,
            text: None,
        }
    }

    /// A CPU quantity of `millis` thousandths of a core (`250` → `250m`, `1000` → `1`).
    pub fn from_cpu_millis(millis: i64) -> Quantity {
        Quantity::from_milli(millis, Format::DecimalSi)
    }

    /// A memory or storage quantity of `bytes` bytes, printed with binary suffixes when exact
    /// (`1073741824` → `1Gi`, `1536` → `1536`; below 1024 as `DecimalSI`: `1000` → `1k`).
    pub fn from_bytes(bytes: i64) -> Quantity {
        Quantity::new(bytes, Format::BinarySi)
    }

    /// The format the quantity is printed in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Changes the format the quantity is printed in (the value is unchanged).
    pub fn set_format(&mut self, format: Format) {
        self.format = format;
        self.text = None;
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// −1, 0 or 1 as the value is negative, zero or positive (apimachinery's `Sign`).
    #[doc(alias = "Sign")]
    pub fn signum(&self) -> i32 {
        self.amount.m.signum() as i32
    }

    /// The value rounded to an integer away from zero (apimachinery's `Value`): `1.2` → 2,
    /// `-1.2` → −2. Saturates at `i64::MIN`/`i64::MAX` where apimachinery overflows.
    #[doc(alias = "Value")]
    pub fn value(&self) -> i64 {
        self.amount.scaled_value(0)
    }

    /// The value in thousandths, rounded away from zero (apimachinery's `MilliValue`):
    /// `100m` → 100, `1` → 1000, `1n` → 1. Saturates at the `i64` bounds.
    #[doc(alias = "MilliValue")]
    pub fn milli_value(&self) -> i64 {
        self.amount.scaled_value(-3)
    }

    /// The value in units of `10^scale`, rounded away from zero (apimachinery's
    /// `ScaledValue`): `scaled_value(-9)` is the value in nano-units. Saturates at the `i64`
    /// bounds.
    #[doc(alias = "ScaledValue")]
    pub fn scaled_value(&self, scale: i32) -> i64 {
        self.amount.scaled_value(scale)
    }

    /// The value as the nearest `f64` (apimachinery's `AsApproximateFloat64`).
    #[doc(alias = "AsApproximateFloat64")]
    pub fn as_f64(&self) -> f64 {
        // Formatting and re-parsing gives a correctly rounded result.
        format!("{}e{}", self.amount.m, self.amount.e)
            .parse()
            .unwrap_or(0.0)
    }

    /// The value multiplied by `factor` (apimachinery's `Mul`), keeping the format.
    pub fn mul(&self, factor: i64) -> Quantity {
        Quantity {
            amount: self.amount.mul(factor),
            format: self.format,
            text: None,
        }
    }

    /// The canonical form (apimachinery's `CanonicalizeBytes`), ignoring any text kept from
    /// parsing: `+1` → `1`, `1E3` → `1e3`.
    #[doc(alias = "CanonicalizeBytes")]
    pub fn canonical(&self) -> String {
        let a = self.amount;
        if a.is_zero() {
            return "0".to_string();
        }
        let sign = if a.m < 0 { "-" } else { "" };
        if self.format == Format::BinarySi {
            let small = a.cmp_magnitude(Amount { m: 1024, e: 0 }) == Ordering::Less;
            if let Some(mut v) = a.as_integer_magnitude().filter(|_| !small) {
                let mut k = 0;
                while k < 6 && v % 1024 == 0 {
                    v /= 1024;
                    k += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
                return format!("{sign}{v}{suffix}");
            }
            // Below 1024, fractional or beyond 128 bits: printed as DecimalSI.
        }
        let (digits, exponent) = a.canonical_decimal();
        let suffix = match (self.format, exponent) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".to_string(),
            (_, -6) => "u".to_string(),
            (_, -3) => "m".to_string(),
            (_, 0) => String::new(),
            (_, 3) => "k".to_string(),
            (_, 6) => "M".to_string(),
            (_, 9) => "G".to_string(),
            (_, 12) => "T".to_string(),
            (_, 15) => "P".to_string(),
            (_, 18) => "E".to_string(),
            (_, e) => format!("e{e}"),
        };
        format!("{sign}{digits}{suffix}")
    }

    fn with_amount(&self, other: &Quantity, amount: Amount) -> Quantity {
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Quantity {
            amount,
            format,
            text: None,
        }
    }
}

/// The value in nano-units of a short digit vector (callers check it has at most 28 digits).
fn nanos(digits: &[u8], e10: i64) -> i128 {
    let m = digits
        .iter()
        .fold(0i128, |acc, &d| acc * 10 + i128::from(d));
    let shift = u32::try_from(e10 - NANO).unwrap_or(0);
    m * 10i128.pow(shift)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(text) => f.write_str(text),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Quantity").field(&self.to_string()).finish()
    }
}

impl FromStr for Quantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Quantity> {
        Quantity::parse(s)
    }
}

impl TryFrom<&str> for Quantity {
    type Error = Error;

    fn try_from(s: &str) -> Result<Quantity> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.amount == other.amount
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The amount is normalized, so equal values hash equally.
        self.amount.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.amount.cmp(&other.amount)
    }
}

impl Add<&Quantity> for &Quantity {
    type Output = Quantity;

    /// The sum; a zero left operand takes the right operand's format (as apimachinery's `Add`).
    fn add(self, rhs: &Quantity) -> Quantity {
        self.with_amount(rhs, self.amount.add(rhs.amount))
    }
}

impl Add for Quantity {
    type Output = Quantity;

    fn add(self, rhs: Quantity) -> Quantity {
        &self + &rhs
    }
}

impl AddAssign<&Quantity> for Quantity {
    fn add_assign(&mut self, rhs: &Quantity) {
        *self = &*self + rhs;
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = &*self + &rhs;
    }
}

impl Sub<&Quantity> for &Quantity {
    type Output = Quantity;

    /// The difference; a zero left operand takes the right operand's format (as apimachinery's
    /// `Sub`).
    fn sub(self, rhs: &Quantity) -> Quantity {
        self.with_amount(rhs, self.amount.add(rhs.amount.neg()))
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    fn sub(self, rhs: Quantity) -> Quantity {
        &self - &rhs
    }
}

impl SubAssign<&Quantity> for Quantity {
    fn sub_assign(&mut self, rhs: &Quantity) {
        *self = &*self - rhs;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = &*self - &rhs;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        Quantity {
            amount: self.amount.neg(),
            format: self.format,
            text: None,
        }
    }
}

impl Neg for &Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        -self.clone()
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), |acc, q| &acc + &q)
    }
}

impl<'a> Sum<&'a Quantity> for Quantity {
    fn sum<I: Iterator<Item = &'a Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), |acc, q| &acc + q)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl QuantityVisitor {
    fn parse<E: de::Error>(s: &str) -> std::result::Result<Quantity, E> {
        Quantity::parse(s.trim()).map_err(E::custom)
    }
}

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity as a string (\"100m\", \"1Gi\") or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Quantity, E> {
        Self::parse(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> std::result::Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> std::result::Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Quantity, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("a quantity must be finite, not {v}")));
        }
        // `Display` for f64 never uses an exponent and round-trips exactly.
        Self::parse(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Quantity, E> {
        Ok(Quantity::default())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Quantity, E> {
        Ok(Quantity::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Format::{BinarySi as B, DecimalExponent as X, DecimalSi as D};

    fn q(m: i128, e: i32, format: Format) -> Quantity {
        Quantity {
            amount: Amount::new(m, i64::from(e)),
            format,
            text: None,
        }
    }

    fn p(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    const MAX: i128 = i64::MAX as i128;

    /// apimachinery's TestQuantityParse table: input, expected value (m × 10^e) and format.
    const PARSE: &[(&str, i128, i32, Format)] = &[
        ("0", 0, 0, D),
        ("0n", 0, 0, D),
        ("0u", 0, 0, D),
        ("0m", 0, 0, D),
        ("0Ki", 0, 0, B),
        ("0k", 0, 0, D),
        ("0Mi", 0, 0, B),
        ("0M", 0, 0, D),
        ("0Gi", 0, 0, B),
        ("0G", 0, 0, D),
        ("0Ti", 0, 0, B),
        ("0T", 0, 0, D),
        // Quantity-less numbers are allowed.
        ("1", 1, 0, D),
        // Binary suffixes.
        ("1Ki", 1024, 0, B),
        ("8Ki", 8 * 1024, 0, B),
        ("7Mi", 7 << 20, 0, B),
        ("6Gi", 6 << 30, 0, B),
        ("5Ti", 5 << 40, 0, B),
        ("4Pi", 4 << 50, 0, B),
        ("3Ei", 3 << 60, 0, B),
        ("10Ti", 10 << 40, 0, B),
        ("100Ti", 100 << 40, 0, B),
        // Decimal suffixes.
        ("5n", 5, -9, D),
        ("4u", 4, -6, D),
        ("3m", 3, -3, D),
        ("9", 9, 0, D),
        ("8k", 8, 3, D),
        ("50k", 5, 4, D),
        ("7M", 7, 6, D),
        ("6G", 6, 9, D),
        ("5T", 5, 12, D),
        ("40T", 4, 13, D),
        ("300T", 3, 14, D),
        ("2P", 2, 15, D),
        ("1E", 1, 18, D),
        // Decimal exponents.
        ("1E-3", 1, -3, X),
        ("1e3", 1, 3, X),
        ("1E6", 1, 6, X),
        ("1e9", 1, 9, X),
        ("1E12", 1, 12, X),
        ("1e15", 1, 15, X),
        ("1E18", 1, 18, X),
        // Nonstandard but still parsable.
        ("1e14", 1, 14, X),
        ("1e13", 1, 13, X),
        ("100.035k", 100035, 0, D),
        // Things that look like floating point.
        ("0.001", 1, -3, D),
        ("0.0005k", 5, -1, D),
        ("0.005", 5, -3, D),
        ("0.05", 5, -2, D),
        ("0.5", 5, -1, D),
        ("0.00050k", 5, -1, D),
        ("0.00500", 5, -3, D),
        ("0.05000", 5, -2, D),
        ("0.50000", 5, -1, D),
        ("0.5e0", 5, -1, X),
        ("0.5e-1", 5, -2, X),
        ("0.5e-2", 5, -3, X),
        ("10.035M", 10035, 3, D),
        ("1.2e3", 12, 2, X),
        ("1.3E+6", 13, 5, X),
        ("1.40e9", 14, 8, X),
        ("1.53E12", 153, 10, X),
        ("1.6e15", 16, 14, X),
        ("1.7E18", 17, 17, X),
        ("9.01", 901, -2, D),
        ("8.1k", 81, 2, D),
        ("7.123456M", 7123456, 0, D),
        ("6.987654321G", 6987654321, 0, D),
        ("5.444T", 5444, 9, D),
        ("40.1T", 401, 11, D),
        ("300.2T", 3002, 11, D),
        ("2.5P", 25, 14, D),
        ("1.01E", 101, 16, D),
        // Things that saturate/round.
        ("3.001n", 4, -9, D),
        ("1.1E-9", 2, -9, X),
        ("0.0000000001", 1, -9, D),
        ("0.0000000005", 1, -9, D),
        ("0.00000000050", 1, -9, D),
        ("0.5e-9", 1, -9, X),
        ("0.9n", 1, -9, D),
        ("0.00000012345", 124, -9, D),
        ("0.00000012354", 124, -9, D),
        ("9Ei", MAX, 0, B),
        ("9223372036854775807Ki", MAX, 0, B),
        ("12E", 12, 18, D),
        // Fractional binary values.
        ("100.035Ki", 10243584, -2, B),
        ("0.5Mi", 524288, 0, B),
        ("0.05Gi", 536870912, -1, B),
        ("0.025Ti", 274877906944, -1, B),
        // Things written by trolls.
        ("0.000000000001Ki", 2, -9, D),
        (".001", 1, -3, D),
        (".0001k", 100, -3, D),
        ("1.", 1, 0, D),
        ("1.G", 1, 9, D),
        // Beyond apimachinery's table.
        ("8Ei", MAX, 0, B),
        ("18446744073709551616", 18446744073709551616, 0, D),
        ("1e30", 1, 30, X),
        ("1000E", 1, 21, D),
        ("1.2345", 12345, -4, D),
        ("0.5Ki", 512, 0, B),
        ("1e-10", 1, -9, X),
        ("1e-2000000000", 1, -9, X),
        (
            "12345678901234567890123456789.123456789",
            12345678901234567890123456789123456789,
            -9,
            D,
        ),
        // apimachinery reads a number without digits as zero.
        (".", 0, 0, D),
        ("Ki", 0, 0, B),
        ("e3", 0, 0, X),
        ("00", 0, 0, D),
        ("0.0", 0, 0, D),
    ];

    #[test]
    fn parse_table() {
        for &(input, m, e, format) in PARSE {
            let want = Amount::new(m, i64::from(e));
            for (prefix, want) in [("", want), ("+", want), ("-", want.neg())] {
                let input = format!("{prefix}{input}");
                let got = p(&input);
                assert_eq!(got.amount, want, "{input}");
                assert_eq!(got.format, format, "{input}");
                // Format ∘ parse is a fixed point.
                let s = got.to_string();
                assert_eq!(p(&s), got, "{input} -> {s}");
                assert_eq!(p(&s).to_string(), s, "{input} -> {s}");
            }
        }
    }

    #[test]
    fn invalid_table() {
        let cases: &[(&str, Error)] = &[
            ("", Error::FormatWrong),
            ("1.1.M", Error::FormatWrong),
            ("1+1.0M", Error::FormatWrong),
            ("0.1mi", Error::Suffix),
            ("0.1am", Error::FormatWrong),
            ("aoeu", Error::FormatWrong),
            (".5i", Error::Suffix),
            ("1i", Error::Suffix),
            ("-3.01i", Error::Suffix),
            ("-3.01e-", Error::Suffix),
            // Whitespace is forbidden (JSON decoding trims it first).
            (" 1", Error::FormatWrong),
            ("1 ", Error::FormatWrong),
            ("1e", Error::Suffix),
            ("x3", Error::FormatWrong),
            ("1KiB", Error::FormatWrong),
            ("1Kii", Error::Suffix),
            ("1k3", Error::Suffix),
            ("--1", Error::Suffix),
            ("1e1.5", Error::FormatWrong),
            ("1,5", Error::FormatWrong),
            ("0x10", Error::FormatWrong),
            ("1_000", Error::FormatWrong),
            ("∞", Error::FormatWrong),
            ("Pi", Error::Numeric),
            ("-.Ei", Error::Numeric),
            ("1e99999999999", Error::OutOfRange),
            ("1e99999999999999999999", Error::Suffix),
            ("1e2000000000", Error::OutOfRange),
        ];
        for (input, want) in cases {
            assert_eq!(
                Quantity::parse(input).err().as_ref(),
                Some(want),
                "{input:?}"
            );
        }
        assert_eq!(
            Error::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    /// apimachinery's TestQuantityString: value, format, canonical form, and a non-canonical
    /// spelling of the same value.
    const STRING: &[(i128, i32, Format, &str, &str)] = &[
        (1 << 30, 0, B, "1Gi", "1024Mi"),
        (300 << 20, 0, B, "300Mi", "307200Ki"),
        (6 * 1024, 0, B, "6Ki", ""),
        (1001 << 30, 0, B, "1001Gi", "1025024Mi"),
        (1 << 40, 0, B, "1Ti", "1024Gi"),
        (5, 0, B, "5", "5000m"),
        (500, -3, B, "500m", "0.5"),
        (1, 9, D, "1G", "1000M"),
        (1000, 6, D, "1G", "0.001T"),
        (1000000, 3, D, "1G", ""),
        (1000000000, 0, D, "1G", ""),
        (1, -3, D, "1m", "1000u"),
        (80, -3, D, "80m", ""),
        (1080, -3, D, "1080m", "1.08"),
        (108, -2, D, "1080m", "1080000000n"),
        (10800, -4, D, "1080m", ""),
        (300, 6, D, "300M", ""),
        (1, 12, D, "1T", ""),
        (1, 18, D, "1E", ""),
        (1, 21, D, "1e21", "1000E"),
        (5, 21, D, "5e21", "5000E"),
        (1, 24, D, "1e24", "1000000E"),
        (1234567, 6, D, "1234567M", ""),
        (1234567, -3, B, "1234567m", ""),
        (3, 3, D, "3k", ""),
        (1025, 0, B, "1025", ""),
        (0, 0, D, "0", ""),
        (0, 0, B, "0", ""),
        (1, 9, X, "1e9", ".001e12"),
        (1, -3, X, "1e-3", "0.001e0"),
        (1, -9, X, "1e-9", "1000e-12"),
        (80, -3, X, "80e-3", ""),
        (300, 6, X, "300e6", ""),
        (1, 12, X, "1e12", ""),
        (1, 3, X, "1e3", ""),
        (3, 3, X, "3e3", ""),
        (3, 3, D, "3k", ""),
        (0, 0, X, "0", "00"),
        (1, -9, D, "1n", ""),
        (80, -9, D, "80n", ""),
        (1080, -9, D, "1080n", ""),
        (108, -8, D, "1080n", ""),
        (10800, -10, D, "1080n", ""),
        (1, -6, D, "1u", ""),
        (80, -6, D, "80u", ""),
        (1080, -6, D, "1080u", ""),
        // Beyond apimachinery's table.
        (1536, 0, B, "1536", ""),
        (11264, -1, B, "1126400m", "1.1Ki"),
    ];

    #[test]
    fn string_table() {
        for &(m, e, format, canonical, alternate) in STRING {
            let value = q(m, e, format);
            assert_eq!(value.to_string(), canonical, "{m}e{e} {format:?}");
            if m != 0 {
                assert_eq!((-value.clone()).to_string(), format!("-{canonical}"));
            }
            // Parsing the canonical form keeps the text as written.
            let parsed = p(canonical);
            assert_eq!(parsed, value, "{canonical}");
            if format != B || canonical.ends_with('i') {
                assert_eq!(
                    parsed.text.as_deref(),
                    Some(canonical),
                    "{canonical} keeps its text"
                );
            }
            if !alternate.is_empty() {
                let parsed = p(alternate);
                assert_eq!(parsed.text, None, "{alternate} is re-emitted");
                assert_eq!(parsed.to_string(), canonical, "{alternate}");
                assert_eq!(parsed, value, "{alternate}");
            }
        }
    }

    #[test]
    fn binary_beyond_the_parse_cap() {
        // Reachable through arithmetic only: parsing caps binary suffixes at 2^63 − 1.
        assert_eq!(q(1 << 63, 0, B).to_string(), "8Ei");
        assert_eq!(q(1 << 70, 0, B).to_string(), "1024Ei");
        assert_eq!(q(1, 30, B).to_string(), "931322574615478515625Gi");
        // Beyond 128 bits a binary value prints as DecimalSI.
        assert_eq!(q(1, 40, B).to_string(), "10e39");
        let sum = &p("4Ei") + &p("4Ei");
        assert_eq!(sum.to_string(), "8Ei");
        assert_eq!(p(&sum.to_string()).to_string(), "9223372036854775807");
    }

    /// Parse, then print: what a user writing the input gets back from the API.
    const EMIT: &[(&str, &str)] = &[
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("100m", "100m"),
        ("0.5", "500m"),
        (".5", "500m"),
        ("0.1", "100m"),
        ("1.5", "1500m"),
        ("1.2345", "1234500u"),
        ("1000m", "1"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("12e-1", "1200e-3"),
        ("1e-3", "1e-3"),
        ("1e30", "1e30"),
        ("128974848", "128974848"),
        ("129M", "129M"),
        ("123Mi", "123Mi"),
        ("1.5Gi", "1536Mi"),
        ("1.1Ki", "1126400m"),
        ("2048Ki", "2Mi"),
        ("1024", "1024"),
        ("1000000", "1M"),
        ("-1", "-1"),
        ("1Ei", "1Ei"),
        ("8Ei", "9223372036854775807"),
        ("1n", "1n"),
        ("1u", "1u"),
        ("1000000E", "1e24"),
        ("18446744073709551616", "18446744073709551616"),
        // apimachinery keeps these as written (its fast path accepts them as canonical).
        ("+1", "+1"),
        ("1E3", "1E3"),
        ("5.", "5."),
        ("00100m", "00100m"),
        // …but not these.
        ("0.0", "0"),
        ("-0", "0"),
        ("-", "0"),
        ("+", "0"),
        (".", "0"),
        ("0Ki", "0"),
        ("8Ki", "8Ki"),
        ("1.0", "1"),
    ];

    #[test]
    fn emit_table() {
        for &(input, want) in EMIT {
            assert_eq!(p(input).to_string(), want, "{input}");
            if input.starts_with(['-', '+']) {
                continue;
            }
            let neg = p(&format!("-{input}"));
            if !neg.is_zero() {
                assert_eq!(
                    neg.canonical(),
                    format!("-{}", p(input).canonical()),
                    "-{input}"
                );
            }
        }
        assert_eq!(p("+1").canonical(), "1");
        assert_eq!(p("1E3").canonical(), "1e3");
        assert_eq!(p("5.").canonical(), "5");
        assert_eq!(p("00100m").canonical(), "100m");
    }

    #[test]
    fn compare_table() {
        use Ordering::{Equal as EQ, Greater as GT, Less as LT};
        let cases: &[(&str, &str, Ordering)] = &[
            ("0", "0", EQ),
            ("100m", "50m", GT),
            ("50m", "100m", LT),
            ("10000T", "100Gi", GT),
            ("1Gi", "1073741824", EQ),
            ("1", "1000m", EQ),
            ("1k", "1e3", EQ),
            ("1Ki", "1024", EQ),
            ("1Ki", "1k", GT),
            ("0.5", "500m", EQ),
            ("1.5Gi", "1536Mi", EQ),
            ("-1", "1", LT),
            ("-2", "-1", LT),
            ("-1n", "0", LT),
            ("1n", "0", GT),
            ("-0", "0", EQ),
            ("1e30", "1e29", GT),
            ("999999999999999999999999999999", "1e30", LT),
            ("-999999999999999999999999999999", "-1e30", GT),
            ("8Ei", "9Ei", EQ),
            ("9Ei", "9223372036854775807", EQ),
            (
                "12345678901234567890123456789.123456789",
                "12345678901234567890123456789.12345679",
                LT,
            ),
            // Beyond 38 significant digits values are rounded.
            (
                "123456789012345678901234567890.123456789",
                "123456789012345678901234567890.12345679",
                EQ,
            ),
        ];
        for &(a, b, want) in cases {
            assert_eq!(p(a).cmp(&p(b)), want, "{a} vs {b}");
            assert_eq!(p(b).cmp(&p(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(p(a) == p(b), want == EQ, "{a} == {b}");
        }
        // apimachinery's TestQuantityCmpInt64AndDec, as exact decimals.
        let (mx, mn) = (i128::from(i64::MAX), i128::from(i64::MIN));
        let e18 = 1_000_000_000_000_000_000i128;
        type Decimal = (i128, i32);
        let decimals: &[(Decimal, Decimal, Ordering)] = &[
            ((901, -2), (901, -2), EQ),
            ((90, -1), (901, -2), LT),
            ((901, -2), (900, -2), GT),
            ((0, 0), (0, 0), EQ),
            ((0, 1), (0, -1), EQ),
            ((800, -3), (1, 0), LT),
            ((800, -3), (79, -2), GT),
            ((mx, 0), (1, -1), GT),
            ((mx, 1), (1, 0), GT),
            ((mx, 1), (1, 1), GT),
            ((mx, 1), (0, 1), GT),
            ((mx, -16), (1, 3), LT),
            ((mn, 0), (0, 0), LT),
            ((mn, -18), (-1, 0), LT),
            ((mn, -19), (-1, 0), GT),
            ((e18, -17), (1, 1), EQ),
            ((e18, -17), (-10, 0), GT),
            ((-e18, -17), (-10, 0), EQ),
            ((e18, -17), (1, 0), GT),
            ((e18 + 1, -17), (1, 1), GT),
            ((e18 - 1, -17), (1, 1), LT),
        ];
        for &((am, ae), (bm, be), want) in decimals {
            let (a, b) = (Amount::new(am, ae.into()), Amount::new(bm, be.into()));
            assert_eq!(a.cmp(&b), want, "{am}e{ae} vs {bm}e{be}");
            assert_eq!(b.cmp(&a), want.reverse(), "{bm}e{be} vs {am}e{ae}");
        }
    }

    #[test]
    fn hash_agrees_with_eq() {
        use std::collections::HashSet;
        let set: HashSet<Quantity> = [
            "1Gi",
            "1073741824",
            "1024Mi",
            "1",
            "1000m",
            "1e0",
            "0",
            "-0",
            "0Ki",
        ]
        .into_iter()
        .map(p)
        .collect();
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn arithmetic_table() {
        // apimachinery's TestAdd and TestSub: a, b, a + b, a − b (value and format).
        let zero = Quantity {
            format: D,
            ..Quantity::default()
        };
        let cases = [
            (q(10, 0, D), q(1, 1, D), q(20, 0, D), q(0, 0, D)),
            (q(10, 0, D), q(1, 0, B), q(11, 0, D), q(9, 0, D)),
            (q(10, 0, B), q(1, 0, D), q(11, 0, B), q(9, 0, B)),
            (zero.clone(), q(50, 0, D), q(50, 0, D), q(-50, 0, D)),
            (q(50, 0, D), zero.clone(), q(50, 0, D), q(50, 0, D)),
            (zero.clone(), zero.clone(), q(0, 0, D), q(0, 0, D)),
            (p("100m"), p("1.5"), p("1600m"), p("-1400m")),
            (p("1Gi"), p("512Mi"), p("1536Mi"), p("512Mi")),
            (
                p("1n"),
                p("1e20"),
                p("100000000000000000000000000001n"),
                p("-99999999999999999999999999999n"),
            ),
        ];
        for (a, b, sum, diff) in cases {
            let got = &a + &b;
            assert_eq!(got, sum, "{a} + {b}");
            assert_eq!(got.format, sum.format, "{a} + {b}");
            let got = &a - &b;
            assert_eq!(got, diff, "{a} - {b}");
            assert_eq!(got.format, diff.format, "{a} - {b}");
            let mut acc = a.clone();
            acc += &b;
            acc -= b.clone();
            assert_eq!(acc, a);
        }
        // TestQuantityAddZeroPreservesSuffix / TestQuantitySubZeroPreservesSuffix.
        for s in ["100m", "1Gi"] {
            let v = p(s);
            assert_eq!((&v + &zero).to_string(), s);
            assert_eq!((&zero + &v).to_string(), s);
            assert_eq!((&v - &zero).to_string(), s);
            assert_eq!((&zero - &v).to_string(), (-v).to_string());
        }
        // TestQuantityNeg.
        assert_eq!((-q(901, -2, D)).to_string(), "-9010m");
        assert_eq!((-q(10, 0, B)), q(-10, 0, B));
        assert_eq!((-q(0, 0, D)).to_string(), "0");
        // Adding drops the text kept from parsing.
        assert_eq!((p("+1") + Quantity::default()).to_string(), "1");
        // Sums.
        let total: Quantity = ["100m", "200m", "0.7"].iter().map(|s| p(s)).sum();
        assert_eq!(total.to_string(), "1");
        let total: Quantity = [p("1Gi"), p("1Gi")].iter().sum();
        assert_eq!(total.to_string(), "2Gi");
        // Beyond 38 digits sums are rounded, not wrong.
        let big = p("99999999999999999999999999999999999999");
        assert_eq!((&big + &big).to_string(), "200e36");
        assert_eq!((&big + &p("1n")), big);
        assert_eq!((&p("1e100") - &p("1e100")).to_string(), "0");
    }

    #[test]
    fn mul_table() {
        // apimachinery's TestMul (values only).
        let (mx, mn) = (i128::from(i64::MAX), i128::from(i64::MIN));
        let cases: &[(i128, i64, i128)] = &[
            (10, 10, 100),
            (10, 1, 10),
            (0, 50, 0),
            (50, 0, 0),
            (10, -10, -100),
            (-10, 1, -10),
            (-50, -50, 2500),
            (mx, 0, 0),
            (mx, 1, mx),
            (mx, -1, -mx),
            (mx / 2, 2, (mx / 2) * 2),
            (mx, 2, mx * 2),
            (mx, 10, mx * 10),
            (mn, -1, -mn),
            (mn, 2, mn * 2),
            (mn, -10, -mn * 10),
        ];
        for &(m, y, want) in cases {
            assert_eq!(q(m, 0, D).mul(y), q(want, 0, D), "{m} * {y}");
        }
        assert_eq!(p("250m").mul(4).to_string(), "1");
        assert_eq!(p("1Gi").mul(3).to_string(), "3Gi");
    }

    #[test]
    fn constructors_table() {
        // TestMilliNewSet.
        for (value, format, want) in [
            (1, D, "1m"),
            (1000, D, "1"),
            (1234000, D, "1234"),
            (1024, B, "1024m"),
            (1000000, X, "1e3"),
            (1024 * 1024, B, "1048576m"),
        ] {
            let got = Quantity::from_milli(value, format);
            assert_eq!(got.to_string(), want, "{value} {format:?}");
            assert_eq!(p(want).milli_value(), value);
        }
        // TestNewSet.
        for (value, format, want) in [
            (1, D, "1"),
            (1000, D, "1k"),
            (1234000, D, "1234k"),
            (1024, B, "1Ki"),
            (1000000, X, "1e6"),
            (1024 * 1024, B, "1Mi"),
        ] {
            let got = Quantity::new(value, format);
            assert_eq!(got.to_string(), want, "{value} {format:?}");
            assert_eq!(p(want).value(), value);
        }
        // TestNewScaledSet.
        for (value, scale, want) in [
            (1, -9, "1n"),
            (1000, -9, "1u"),
            (1, -6, "1u"),
            (1000, -6, "1m"),
            (1, -3, "1m"),
            (1000, -3, "1"),
            (1, 0, "1"),
            (0, -9, "0"),
            (0, -6, "0"),
            (0, -3, "0"),
            (0, 0, "0"),
        ] {
            let got = Quantity::from_scaled(value, scale);
            assert_eq!(got.to_string(), want, "{value}e{scale}");
            assert_eq!(p(want).scaled_value(scale), value);
        }
        assert_eq!(Quantity::from_scaled(1, -12).to_string(), "1n");
        assert_eq!(Quantity::from_cpu_millis(250).to_string(), "250m");
        assert_eq!(Quantity::from_cpu_millis(2000).to_string(), "2");
        assert_eq!(Quantity::from_bytes(1 << 30).to_string(), "1Gi");
        assert_eq!(Quantity::from_bytes(1000).to_string(), "1k");
        assert_eq!(Quantity::from_bytes(1500).to_string(), "1500");
        assert_eq!(Quantity::default().to_string(), "0");
        let mut v = p("1Gi");
        v.set_format(D);
        assert_eq!(v.to_string(), "1073741824");
    }

    #[test]
    fn scaled_value_table() {
        // TestScaledValue: from_scaled(1, from).scaled_value(to).
        for (from, to, want) in [
            (-9, -9, 1),
            (-9, -6, 1),
            (-9, -3, 1),
            (-9, 0, 1),
            (-6, -9, 1000),
            (-6, -6, 1),
            (-6, -3, 1),
            (-6, 0, 1),
            (-3, -9, 1000 * 1000),
            (-3, -6, 1000),
            (-3, -3, 1),
            (-3, 0, 1),
            (0, -9, 1000 * 1000 * 1000),
            (0, -6, 1000 * 1000),
            (0, -3, 1000),
            (0, 0, 1),
            (2, -2, 100 * 100),
        ] {
            assert_eq!(
                Quantity::from_scaled(1, from).scaled_value(to),
                want,
                "{from} -> {to}"
            );
        }
        // Rounding away from zero, and saturation.
        for (input, value, milli) in [
            ("1.2", 2, 1200),
            ("-1.2", -2, -1200),
            ("0.5", 1, 500),
            ("1n", 1, 1),
            ("-1n", -1, -1),
            ("100m", 1, 100),
            ("1Gi", 1 << 30, 1000 << 30),
            ("9Ei", i64::MAX, i64::MAX),
            ("1e30", i64::MAX, i64::MAX),
            ("-1e30", i64::MIN, i64::MIN),
            ("0", 0, 0),
        ] {
            assert_eq!(p(input).value(), value, "{input}");
            assert_eq!(p(input).milli_value(), milli, "{input}");
        }
        assert_eq!(p("2Ki").as_f64(), 2048.0);
        assert_eq!(p("1.1Ki").as_f64(), 1126.4);
        assert_eq!(p("1Mi").as_f64(), 1.048576e06);
        assert_eq!(p("12E").as_f64(), 1.2e19);
    }

    #[test]
    fn add_sub_round_trip() {
        // TestAddSubRoundTrip / TestAddSubRoundTripAcrossScales, with a fixed xorshift.
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 1) as i64
        };
        for k in -10..=10 {
            let values: Vec<i64> = (0..100).map(|_| next()).collect();
            let mut acc = Quantity::default();
            for &j in &values {
                acc += Quantity::from_scaled(j, k);
            }
            for &j in &values {
                acc -= Quantity::from_scaled(j, k);
            }
            assert!(acc.is_zero(), "scale {k}: {acc}");
        }
        let values: Vec<i64> = (0..100).map(|_| next()).collect();
        let scale = |j: i64| (j % 18 - 9) as i32;
        let mut acc = Quantity::default();
        for &j in &values {
            acc += Quantity::from_scaled(j, scale(j));
        }
        for &j in &values {
            acc -= Quantity::from_scaled(j, scale(j));
        }
        assert!(acc.is_zero(), "{acc}");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Resources {
        cpu: Quantity,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        memory: Option<Quantity>,
    }

    #[test]
    fn json() {
        // TestJSONWhitespace and numbers.
        for (json, want) in [
            (r#"" 1""#, "1"),
            (r#""1 ""#, "1"),
            ("1", "1"),
            (" 1", "1"),
            ("1 ", "1"),
            ("10", "10"),
            ("-1", "-1"),
            (" -1", "-1"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1e9", "1G"),
            ("1e-3", "1m"),
            ("18446744073709551615", "18446744073709551615"),
            ("null", "0"),
            (r#""1Gi""#, "1Gi"),
            (r#""0.5""#, "500m"),
            (r#""+1""#, "+1"),
        ] {
            let got: Quantity =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(got.to_string(), want, "{json}");
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                format!("\"{want}\""),
                "{json}"
            );
        }
        let err = serde_json::from_str::<Quantity>(r#""1.1.M""#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("quantities must match the regular expression"),
            "{err}"
        );
        assert!(serde_json::from_str::<Quantity>(r#""""#).is_err());
        assert!(serde_json::from_str::<Quantity>("true").is_err());
        assert!(serde_json::from_str::<Quantity>("[]").is_err());

        let r: Resources = serde_json::from_str(r#"{"cpu":0.5,"memory":"1.5Gi"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cpu":"500m","memory":"1536Mi"}"#
        );
        let r: Resources = serde_norway::from_str("cpu: 1\nmemory: 129M\n").unwrap();
        assert_eq!(
            r,
            Resources {
                cpu: p("1"),
                memory: Some(p("129M"))
            }
        );
        assert_eq!(
            serde_norway::to_string(&r).unwrap(),
            "cpu: '1'\nmemory: 129M\n"
        );
        let r: Resources = serde_norway::from_str("cpu: 250m\n").unwrap();
        assert_eq!(r.cpu.milli_value(), 250);
    }

    #[test]
    fn debug_and_display() {
        assert_eq!(format!("{:?}", p("1.5Gi")), r#"Quantity("1536Mi")"#);
        assert_eq!(format!("{}", p("129M")), "129M");
        assert_eq!(
            "1Gi".parse::<Quantity>().unwrap(),
            Quantity::try_from("1024Mi").unwrap()
        );
    }

    fn format_strategy() -> impl Strategy<Value = Format> {
        prop_oneof![Just(D), Just(B), Just(X)]
    }

    /// Values apimachinery round-trips: decimal ones anywhere, binary ones within ±(2^63−1)
    /// (parsing caps binary suffixes there).
    fn quantity_strategy() -> impl Strategy<Value = Quantity> {
        prop_oneof![
            (any::<i64>(), -9i32..=24, prop_oneof![Just(D), Just(X)]).prop_map(|(m, e, f)| q(
                m.into(),
                e,
                f
            )),
            (any::<i64>(), -9i32..=0).prop_map(|(m, e)| q(m.into(), e, B)),
            (-1024i64..1024, 0u32..6).prop_map(|(m, k)| q(i128::from(m) << (10 * k), 0, B)),
            (-1000i64..1000, -3i32..=5, format_strategy()).prop_map(|(m, e, f)| q(
                m.into(),
                e * 3,
                f
            )),
        ]
    }

    fn nanos_of(m: i64, e: i32) -> i128 {
        i128::from(m) * 10i128.pow((e + 9) as u32)
    }

    proptest! {
        #[test]
        fn format_parse_is_stable(value in quantity_strategy()) {
            // A BinarySI value printed without a binary suffix (`2000`) parses back as DecimalSI
            // (`2k`), as in apimachinery: the value survives, and the text is a fixed point from
            // the second round on.
            let s = value.to_string();
            let parsed = Quantity::parse(&s).unwrap();
            prop_assert_eq!(&parsed, &value, "{}", s);
            let s2 = parsed.to_string();
            let reparsed = Quantity::parse(&s2).unwrap();
            prop_assert_eq!(&reparsed, &value);
            prop_assert_eq!(reparsed.to_string(), s2);
            if value.format != B {
                prop_assert_eq!(parsed.to_string(), s.clone());
            }
            let again = Quantity::parse(&parsed.canonical()).unwrap();
            prop_assert_eq!(again.canonical(), parsed.canonical());
            let json = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(serde_json::from_str::<Quantity>(&json).unwrap(), value);
        }

        #[test]
        fn parse_format_is_stable(
            sign in prop_oneof![Just(""), Just("-"), Just("+")],
            int in "[0-9]{0,6}",
            frac in prop::option::of("[0-9]{0,6}"),
            suffix in prop_oneof![
                Just(""), Just("n"), Just("u"), Just("m"), Just("k"), Just("M"), Just("G"),
                Just("T"), Just("P"), Just("E"), Just("Ki"), Just("Mi"), Just("Gi"), Just("Ti"),
                Just("e3"), Just("e-7"), Just("E+2"), Just("e0"),
            ],
        ) {
            let input = match &frac {
                Some(frac) => format!("{sign}{int}.{frac}{suffix}"),
                None => format!("{sign}{int}{suffix}"),
            };
            if let Ok(value) = Quantity::parse(&input) {
                let s = value.to_string();
                let parsed = Quantity::parse(&s).unwrap();
                prop_assert_eq!(&parsed, &value, "{} -> {}", input, s);
                prop_assert_eq!(parsed.to_string(), s);
            }
        }

        #[test]
        fn parse_never_panics(input in "[-+.0-9eEinumkKMGTP]{0,40}", other in "\\PC{0,20}") {
            for input in [input, other] {
                if let Ok(value) = Quantity::parse(&input) {
                    let s = value.to_string();
                    prop_assert_eq!(Quantity::parse(&s).map(|q| q == value), Ok(true), "{} -> {}", input, s);
                }
            }
        }

        #[test]
        fn order_agrees_with_value(a in any::<i64>(), ae in -9i32..=9, b in any::<i64>(), be in -9i32..=9) {
            let (qa, qb) = (q(a.into(), ae, D), q(b.into(), be, B));
            let (na, nb) = (nanos_of(a, ae), nanos_of(b, be));
            prop_assert_eq!(qa.cmp(&qb), na.cmp(&nb));
            prop_assert_eq!(qa == qb, na == nb);
            prop_assert_eq!((&qa + &qb).scaled_value(-9) as i128, (na + nb).clamp(i64::MIN.into(), i64::MAX.into()));
            let sum = &qa + &qb;
            prop_assert_eq!(sum.cmp(&qa), nb.cmp(&0));
            prop_assert_eq!(&(&sum - &qb), &qa);
            // Parsing the canonical text gives back the same value.
            prop_assert_eq!(Quantity::parse(&qa.canonical()).unwrap(), qa);
        }

        #[test]
        fn equal_values_hash_equally(m in any::<i64>(), e in 0i32..=9, k in 0u32..=9) {
            use std::collections::hash_map::DefaultHasher;
            let a = q(m.into(), e, D);
            let b = q(i128::from(m) * 10i128.pow(k), e - k as i32, B);
            prop_assert_eq!(&a, &b);
            let hash = |v: &Quantity| { let mut h = DefaultHasher::new(); v.hash(&mut h); h.finish() };
            prop_assert_eq!(hash(&a), hash(&b));
        }
    }
}
