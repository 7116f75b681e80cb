"""The one place for ingest's cleaning of field values: UK postcodes and NHS numbers."""

from __future__ import annotations

import re

__all__ = ["clean_nhs_number", "clean_postcode", "nhs_check_digit_ok"]

# Outward code: A9, A99, AA9, AA99, A9A, AA9A; inward code: 9AA (BS 7666 shapes).
_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
# In the inward code's last two places only letters are valid: the usual keying confusions.
_DIGIT_TO_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})
_LETTER_TO_DIGIT = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8"})
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")
_NHS_SEPARATORS = re.compile(r"[\s-]")


def _fix_confusions(compact: str) -> str:
    """Repair O/0, I/1, S/5, B/8 where the postcode shape allows only one of them."""
    if len(compact) < 5:
        return compact
    inward = compact[-3:]
    inward = inward[0].translate(_LETTER_TO_DIGIT) + inward[1:].translate(_DIGIT_TO_LETTER)
    outward = compact[:-3]
    # The first character of a postcode is always a letter.
    outward = outward[0].translate(_DIGIT_TO_LETTER) + outward[1:]
    return outward + inward


def clean_postcode(value: str | None) -> tuple[str | None, bool]:
    """(canonical postcode, is UK shape). 'n179ej' -> ('N17 9EJ', True)."""
    if value is None:
        return None, False
    compact = _NOT_ALPHANUMERIC.sub("", value).upper()
    if not compact:
        return None, False
    # Most postcodes are well keyed: the repair is tried only when the value as given fails.
    m = _UK_POSTCODE.match(compact) or _UK_POSTCODE.match(_fix_confusions(compact))
    if m:
        return f"{m.group(1)} {m.group(2)}", True
    return compact, False


def nhs_check_digit_ok(digits: str) -> bool:
    """The NHS number modulus-11 check on a 10-digit string."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], _NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def clean_nhs_number(value: str | None) -> tuple[str | None, list[str]]:
    """(10 digits or None, flags). A failing check digit is treated as absent and flagged."""
    if value is None:
        return None, []
    digits = _NHS_SEPARATORS.sub("", value)
    if not digits:
        return None, []
    if not nhs_check_digit_ok(digits):
        return None, ["nhs_number_check_failed"]
    return digits, []
