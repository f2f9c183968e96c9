//! Checksums and validity checks that turn pattern matches into findings.

/// The Luhn (mod 10) check used by payment cards.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The "elfproef" of the Dutch BSN: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11).
pub(crate) fn bsn_eleven_check(digits: &[u8]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == 0) || digits[0] == 0 && digits[1] == 0 {
        return false;
    }
    let mut sum: i32 = 0;
    for (i, &d) in digits[..8].iter().enumerate() {
        sum += (9 - i as i32) * i32::from(d);
    }
    sum -= i32::from(digits[8]);
    sum % 11 == 0
}

/// Known payment card ranges (Visa, Mastercard, Amex, Discover, Diners, JCB, Maestro) and
/// their lengths.
pub(crate) fn card_prefix_ok(digits: &[u8]) -> bool {
    let n = digits.len();
    let p = |k: usize| digits[..k].iter().fold(0u32, |a, &d| a * 10 + u32::from(d));
    if n < 13 {
        return false;
    }
    let p2 = p(2);
    let p3 = p(3);
    let p4 = p(4);
    let p6 = p(6);
    match digits[0] {
        4 => matches!(n, 13 | 16 | 19),
        5 => {
            ((51..=55).contains(&p2) && n == 16)
                || ((50..=59).contains(&p2) && (12..=19).contains(&n))
        }
        2 => ((222100..=272099).contains(&p6) && n == 16) || (p4 == 2131 && n == 15),
        1 => p4 == 1800 && n == 15,
        3 => {
            ((p2 == 34 || p2 == 37) && n == 15)
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38) && (14..=19).contains(&n)
                // JCB proper is 3528–3589; generators and test data use all of 35xx.
                || p2 == 35 && (16..=19).contains(&n)
        }
        6 => {
            (p4 == 6011
                || p2 == 65
                || (644..=649).contains(&p3)
                || p2 == 62
                || p2 == 67
                || p2 == 63)
                && (16..=19).contains(&n)
        }
        _ => false,
    }
}

/// IBAN lengths per country (ISO 13616 registry).
pub(crate) fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"SA" => 24,
        b"SC" => 31,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    };
    Some(len)
}

/// ISO 13616 mod-97 check over an IBAN of upper-case letters and digits, spaces removed.
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// The check digit (position 9) of a North American VIN (49 CFR 565).
pub(crate) fn vin_check_digit(vin: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if vin.len() != 17 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in vin.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(c - b'S') + 2,
            _ => return false,
        };
        sum += v * WEIGHTS[i];
    }
    let check = match sum % 11 {
        10 => b'X',
        d => b'0' + d as u8,
    };
    vin[8] == check
}

/// True when day/month/year make a calendar date between 1900 and 2099.
pub(crate) fn valid_date(year: u32, month: u32, day: u32) -> bool {
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// The ASCII digits of `s` as values 0..=9.
pub(crate) fn digits_of(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_visa_and_rejects_changed_digit() {
        assert!(luhn(&digits_of("4111111111111111")));
        assert!(!luhn(&digits_of("4111111111111112")));
    }

    #[test]
    fn bsn_eleven_check_matches_known_valid_numbers() {
        assert!(bsn_eleven_check(&digits_of("111222333")));
        assert!(bsn_eleven_check(&digits_of("123456782")));
        assert!(!bsn_eleven_check(&digits_of("123456789")));
        assert!(!bsn_eleven_check(&digits_of("000000000")));
    }

    #[test]
    fn iban_mod97_accepts_the_iso_example_and_rejects_a_typo() {
        assert!(iban_mod97(b"NL91ABNA0417164300"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"NL91ABNA0417164301"));
        assert_eq!(iban_length(b"NL"), Some(18));
    }

    #[test]
    fn vin_check_digit_accepts_the_standard_example() {
        assert!(vin_check_digit(b"1M8GDM9AXKP042788"));
        assert!(!vin_check_digit(b"1M8GDM9A1KP042788"));
        assert!(vin_check_digit(b"1HGCM82633A004352"));
    }

    #[test]
    fn card_prefixes_know_the_common_networks() {
        assert!(card_prefix_ok(&digits_of("4111111111111111")));
        assert!(card_prefix_ok(&digits_of("5555555555554444")));
        assert!(card_prefix_ok(&digits_of("378282246310005")));
        assert!(!card_prefix_ok(&digits_of("9111111111111111")));
    }

    #[test]
    fn valid_date_knows_leap_years() {
        assert!(valid_date(2000, 2, 29));
        assert!(!valid_date(1900, 2, 29));
        assert!(!valid_date(1990, 13, 1));
    }
}
