"""The import rules of seed 002: which column is which field, and what a valid row is.

- Required: full_name and email. Email: one address of the usual form.
- Phone: optional; with `phone_format: digits_only` (the default) spaces, dashes,
  dots, slashes, parentheses and a leading + are removed and what is left must be
  4 to 20 digits; `as_is` keeps it as written (digits, spaces and `+()-.` only).
- Address fields (address, city, state, postal_code, country): optional, kept.
- Password: optional; at least 8 characters when given. It is hashed before it is
  stored, and never appears in an error (its value is reported as `[redacted]`).

Pure functions, no I/O: the hot loop of an import runs `RowRules.check` a million
times, so it is a closure over column indexes with precompiled patterns (a pydantic
model or email-validator per row costs ~10x more; measured).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from attache_importer.csv_reader import normalise_header

FIELDS = (
    "full_name",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "postal_code",
    "country",
    "password",
)
# Fields a mapping may target besides FIELDS (joined into full_name).
NAME_PARTS = ("first_name", "last_name")
TARGETS = FIELDS + NAME_PARTS
MAX_LENGTHS = {
    "full_name": 200,
    "email": 254,
    "address": 500,
    "city": 200,
    "state": 100,
    "postal_code": 20,
    "country": 100,
    "password": 1024,
}
MIN_PASSWORD = 8
REDACTED = "[redacted]"

# Header names recognised without a mapping_config, after normalise_header().
ALIASES: dict[str, str] = {}
for _target, _names in {
    "full_name": "full_name name fullname customer_name contact_name contact display_name "
    "nombre nombre_completo nom_complet",
    "first_name": "first_name firstname given_name forename first",
    "last_name": "last_name lastname surname family_name last",
    "email": "email e_mail email_address e_mail_address mail emailaddress correo "
    "correo_electronico primary_email",
    "phone": "phone phone_number telephone tel mobile mobile_phone cell phone_no telefono "
    "telephone_number",
    "address": "address street street_address address_1 address_line_1 address1 line1 "
    "direccion mailing_street billing_street",
    "city": "city town locality ciudad mailing_city billing_city",
    "state": "state province region state_province county estado mailing_state billing_state",
    "postal_code": "postal_code postcode zip zip_code zipcode postal codigo_postal "
    "mailing_postal_code billing_postal_code",
    "country": "country country_code nation pais mailing_country billing_country",
    "password": "password passwd pwd contrasena",
}.items():
    for _name in _names.split():
        ALIASES[_name] = _target

# The usual form of an address: a local part without spaces or specials, one @, a domain
# of dot-separated labels (letters of any script, digits, inner hyphens) ending in a
# letters-only label of 2+ characters.
EMAIL = re.compile(
    r"[^\s@\"(),:;<>\[\\\].](?:[^\s@\"(),:;<>\[\\\]]{0,62}[^\s@\"(),:;<>\[\\\].])?"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
)
PHONE_NOISE = re.compile(r"[\s\-./()]")
PHONE_AS_IS = re.compile(r"[0-9+()\-. ]{1,40}")


class ConfigError(ValueError):
    """The mapping or the header can't give the required fields: the job fails."""


@dataclass(frozen=True)
class Columns:
    """Where each field is in a record (index into the fields list)."""

    index: dict[str, int]
    header: list[str]
    ignored: list[str]

    def describe(self) -> dict[str, str]:
        return {target: self.header[i] for target, i in self.index.items()}


def match_columns(header: list[str], mapping: Mapping[str, str] | None) -> Columns:
    """Columns from `mapping` (CSV header → field), or from the header names alone."""
    names = [normalise_header(h) for h in header]
    index: dict[str, int] = {}
    if mapping:
        for source, target in mapping.items():
            wanted = normalise_header(source)
            try:
                i = names.index(wanted)
            except ValueError:
                raise ConfigError(
                    f"mapping_config names the column {source!r}, which the file does not have"
                    f" (its columns: {', '.join(header[:50])})"
                ) from None
            index[target] = i
    else:
        for i, name in enumerate(names):
            target = ALIASES.get(name)
            if target is not None and target not in index:
                index[target] = i
    if "full_name" in index:
        index.pop("first_name", None)
        index.pop("last_name", None)
    missing = [
        f
        for f in ("full_name", "email")
        if f not in index and not (f == "full_name" and ("first_name" in index))
    ]
    if missing:
        how = "mapping_config" if mapping else "the header"
        raise ConfigError(
            f"No column for {' and '.join(missing)} in {how} "
            f"(columns found: {', '.join(header[:50]) or 'none'})"
        )
    used = set(index.values())
    ignored = [h for i, h in enumerate(header) if i not in used]
    return Columns(index, list(header), ignored)


# A checked row: (line, full_name, email, phone, address, city, state, postal_code,
# country, password). Errors: (column, value, reason).
Row = tuple
RowError = tuple[str, str, str]
OPTIONAL = ("address", "city", "state", "postal_code", "country")


def _clip(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def build_checker(
    columns: Columns, *, phone_format: str = "digits_only"
) -> Callable[[int, list[str]], Row | list[RowError]]:
    """A function checking one record's fields (found on `line`): the clean row, or its
    errors. The row is built once, in its final shape, and the optional fields are read
    one by one rather than in a loop: with both, a check takes a fifth less time."""
    idx = columns.index
    width = len(columns.header)
    i_name = idx.get("full_name")
    i_first, i_last = idx.get("first_name"), idx.get("last_name")
    i_email = idx["email"]
    i_phone = idx.get("phone")
    i_address, i_city, i_state, i_postal_code, i_country = (idx.get(f) for f in OPTIONAL)
    max_address, max_city, max_state, max_postal_code, max_country = (
        MAX_LENGTHS[f] for f in OPTIONAL
    )
    i_password = idx.get("password")
    email_match = EMAIL.fullmatch
    digits_only = phone_format == "digits_only"

    def check(line: int, fields: list[str]) -> Row | list[RowError]:
        n = len(fields)
        if n != width:
            if n > width and not any(fields[width:]):
                pass  # trailing empty fields (a delimiter too many): harmless
            elif n > width:
                extra = next(f for f in fields[width:] if f)
                return [("", _clip(extra), f"The line has {n} fields; the header has {width}")]
            else:  # missing trailing fields are empty ones
                fields = fields + [""] * (width - n)
        errors: list[RowError] = []
        if i_name is not None:
            name = fields[i_name].strip()
        else:
            first = fields[i_first].strip() if i_first is not None else ""
            last = fields[i_last].strip() if i_last is not None else ""
            name = f"{first} {last}".strip()
        if not name:
            errors.append(("full_name", "", "full_name is required"))
        elif len(name) > 200:
            errors.append(("full_name", _clip(name), "full_name is longer than 200 characters"))
        email = fields[i_email].strip()
        if not email:
            errors.append(("email", "", "email is required"))
        elif len(email) > 254 or not email_match(email) or ".." in email:
            errors.append(("email", _clip(email), "email is not a valid email address"))
        phone = fields[i_phone].strip() if i_phone is not None else ""
        if phone:
            if digits_only:
                digits = phone
                if not (phone.isdigit() and phone.isascii()):  # formatted: unformat it
                    digits = PHONE_NOISE.sub("", phone)
                    if digits[:1] == "+":
                        digits = digits[1:]
                if not (digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 20):
                    errors.append(
                        ("phone", _clip(phone), "phone must be 4 to 20 digits (digits_only)")
                    )
                phone = digits
            elif not PHONE_AS_IS.fullmatch(phone):
                errors.append(
                    ("phone", _clip(phone), "phone may hold only digits, spaces and +()-.")
                )
        address = fields[i_address].strip() if i_address is not None else ""
        city = fields[i_city].strip() if i_city is not None else ""
        state = fields[i_state].strip() if i_state is not None else ""
        postal_code = fields[i_postal_code].strip() if i_postal_code is not None else ""
        country = fields[i_country].strip() if i_country is not None else ""
        if (
            len(address) > max_address
            or len(city) > max_city
            or len(state) > max_state
            or len(postal_code) > max_postal_code
            or len(country) > max_country
        ):
            values = (address, city, state, postal_code, country)
            for fname, value in zip(OPTIONAL, values, strict=True):
                limit = MAX_LENGTHS[fname]
                if len(value) > limit:
                    errors.append(
                        (fname, _clip(value), f"{fname} is longer than {limit} characters")
                    )
        password = fields[i_password] if i_password is not None else ""
        if password:
            if len(password) < MIN_PASSWORD:
                errors.append(
                    ("password", REDACTED, f"password is shorter than {MIN_PASSWORD} characters")
                )
            elif len(password) > MAX_LENGTHS["password"]:
                errors.append(("password", REDACTED, "password is longer than 1024 characters"))
        if errors:
            return errors
        return (
            line,
            name,
            email,
            phone or None,
            address or None,
            city or None,
            state or None,
            postal_code or None,
            country or None,
            password or None,
        )

    return check


def find_nul(fields: list[str]) -> str | None:
    """The first field holding a NUL character (PostgreSQL text can't store it)."""
    for value in fields:
        if "\x00" in value:
            return value
    return None
