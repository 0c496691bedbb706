"""Amounts, currencies and dates as written in English, German, French, Dutch and Spanish
documents, turned into Decimals, ISO 4217 codes and ISO 8601 dates.

Pure functions, no I/O. The rules are the ones people write by, not one layout's:
- the last separator followed by one or two digits is the decimal mark; a single
  separator followed by exactly three digits groups thousands ("1.234" is 1234 in
  German and "1,234" is 1234 in English; money is never written with three decimals);
- numeric dates are day-first unless the document says otherwise (a component over 12,
  or English with US dollars), ISO dates are year-first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# ---- currencies ---------------------------------------------------------------------------

ISO_CURRENCIES = frozenset(
    "EUR USD GBP CHF JPY CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN INR CNY BRL MXN ZAR "
    "SGD HKD TRY ILS AED SAR KRW THB IDR MYR PHP ARS CLP COP PEN UAH ISK".split()
)
# Longest first, so "US$" wins over "$".
CURRENCY_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("US$", "USD"),
    ("USD$", "USD"),
    ("CA$", "CAD"),
    ("C$", "CAD"),
    ("AU$", "AUD"),
    ("A$", "AUD"),
    ("NZ$", "NZD"),
    ("HK$", "HKD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
    ("₹", "INR"),
    ("₽", "RUB"),
    ("₺", "TRY"),
    ("₪", "ILS"),
    ("zł", "PLN"),
    ("Kč", "CZK"),
    ("$", "USD"),
)
_SYMBOL_PATTERN = "|".join(re.escape(s) for s, _ in CURRENCY_SYMBOLS)
_CODE_PATTERN = "|".join(sorted(ISO_CURRENCIES))
CURRENCY_RE = re.compile(
    rf"(?:(?<![A-Za-z])(?:{_CODE_PATTERN})(?![A-Za-z])|{_SYMBOL_PATTERN}|\bEuros?\b|\bDollars?\b)",
    re.IGNORECASE,
)
_WORDS = {"euro": "EUR", "euros": "EUR", "dollar": "USD", "dollars": "USD"}


def currency_code(token: str) -> str | None:
    token = token.strip()
    upper = token.upper()
    if upper in ISO_CURRENCIES:
        return upper
    if token.lower() in _WORDS:
        return _WORDS[token.lower()]
    for symbol, code in CURRENCY_SYMBOLS:
        if token == symbol or upper == symbol.upper():
            return code
    return None


def currencies_in(text: str) -> list[str]:
    """Currency codes mentioned in `text`, in order (symbols and ISO codes)."""
    found = []
    for match in CURRENCY_RE.finditer(text):
        raw = match.group(0)
        # ISO codes only in capitals: "eur" inside prose is no currency, "Usd" rarely one.
        if raw.upper() in ISO_CURRENCIES and raw != raw.upper():
            continue
        code = currency_code(raw)
        if code:
            found.append(code)
    return found


# ---- amounts ------------------------------------------------------------------------------

# Digits with optional grouping (. , ' NBSP, thin space, or a plain space before a decimal
# part) and an optional 1–2 digit decimal part. A minus (or parentheses) may precede it.
_GROUP = r"[.,'\u00a0\u202f\u2009]"
AMOUNT_RE = re.compile(
    r"(?<![\w.,/-])(?<!\d:)"
    r"(?P<neg>[-−–]\s?)?"
    r"(?P<num>"
    rf"\d{{1,3}}(?:{_GROUP}\d{{3}})+(?:[.,]\d{{1,2}})?"  # grouped: 1.234,56  1,234  1 234,56
    r"|\d{1,3}(?: \d{3})+[.,]\d{2}"  # grouped by plain spaces, with decimals: 1 234,56
    r"|\d+[.,]\d{1,2}"  # 1234,56  12.5
    r"|\d+"  # 1234
    r")"
    r"(?P<dash>[.,]-{1,2})?"  # 12,- (German/Dutch whole amounts)
    r"(?![\w]|[.,]\d)"
)


def parse_amount(raw: str) -> Decimal | None:
    """'1.234,56' → 1234.56, '1,234.56' → 1234.56, '1 234,56' → 1234.56, '12,-' → 12."""
    text = raw.strip().replace("−", "-").replace("–", "-")
    negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
    text = re.sub(r"[,.]-{1,2}$", "", text)
    digits = re.sub(r"[^\d.,]", "", text)
    if not digits or not any(c.isdigit() for c in digits):
        return None
    separators = [c for c in digits if c in ".,"]
    if separators:
        last = max(digits.rfind("."), digits.rfind(","))
        tail = digits[last + 1 :]
        mark = digits[last]
        if len(set(separators)) == 2:
            # Both marks: the last one is decimal, the other groups thousands.
            integer = re.sub(r"[.,]", "", digits[:last])
            digits = f"{integer}.{tail}"
        elif separators.count(mark) > 1 or len(tail) == 3:
            digits = digits.replace(mark, "")
        else:
            digits = digits.replace(mark, ".")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    return -value if negative else value


@dataclass(frozen=True)
class Money:
    value: Decimal
    currency: str | None
    start: int
    end: int
    has_decimals: bool


def find_amounts(text: str) -> Iterator[Money]:
    """Every number in `text` that could be an amount, with an adjacent currency if any."""
    for match in AMOUNT_RE.finditer(text):
        value = parse_amount(match.group(0))
        if value is None:
            continue
        num = match.group("num")
        has_decimals = bool(re.search(r"[.,]\d{1,2}$", num)) or bool(match.group("dash"))
        before = text[max(0, match.start() - 5) : match.start()]
        after = text[match.end() : match.end() + 5]
        currency = None
        m_after = re.match(rf"\s?({_SYMBOL_PATTERN}|{_CODE_PATTERN})(?![A-Za-z])", after)
        m_before = re.search(rf"({_SYMBOL_PATTERN}|{_CODE_PATTERN})\s?$", before)
        if m_before:
            currency = currency_code(m_before.group(1))
        elif m_after:
            currency = currency_code(m_after.group(1))
        yield Money(value, currency, match.start(), match.end(), has_decimals)


def money_value(value: Decimal) -> float:
    """An amount as a JSON number with two decimals (exact for any amount up to 10^13)."""
    return float(value.quantize(Decimal("0.01")))


# ---- dates --------------------------------------------------------------------------------

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan januar jänner janvier janv januari enero ene",
        "february feb februar février fevrier févr fevr februari febrero",
        "march mar märz maerz marz mrz mars maart marzo",
        "april apr avril avr abril abr",
        "may mai mei mayo",
        "june jun juni juin junio",
        "july jul juli juillet juil julio",
        "august aug august août aout augustus agosto ago",
        "september sep sept septembre septiembre setiembre",
        "october oct oktober octobre okt octubre",
        "november nov novembre noviembre",
        "december dec dezember décembre decembre déc dez diciembre dic",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_SEP = r"[./\-]"
DATE_PATTERNS = [
    # 2025-03-15, 2025/03/15, 2025.03.15
    (
        "ymd",
        re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    ),
    # 15.03.2025, 15/03/2025, 03-15-2025, 15.03.25
    (
        "num",
        re.compile(
            rf"(?<![\d.,])(?P<a>\d{{1,2}})\s?(?P<s>{_SEP})\s?(?P<b>\d{{1,2}})\s?(?P=s)\s?"
            r"(?P<y>(?:19|20)\d{2}|\d{2})(?![\d,]|\.\d)"
        ),
    ),
    # 15 March 2025, 15. März 2025, 15 de marzo de 2025, 15-Mar-2025, 1er janvier 2025
    (
        "dmy",
        re.compile(
            rf"(?<![\w])(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|e|º|°)?\.?[\s\-/]*(?:de\s+)?"
            rf"(?P<mon>{_MONTH_NAMES})\.?[\s\-/,]*(?:de\s+|del\s+)?(?P<y>(?:19|20)\d{{2}}|\d{{2}})(?!\d)",
            re.IGNORECASE,
        ),
    ),
    # March 15, 2025 / Mar 15 2025 / March 15th, 2025
    (
        "mdy",
        re.compile(
            rf"(?<![\w])(?P<mon>{_MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
            r"(?P<y>(?:19|20)\d{2})(?!\d)",
            re.IGNORECASE,
        ),
    ),
]


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int
    # A numeric date whose day and month could be swapped (both ≤ 12).
    ambiguous: bool


def _year(raw: str) -> int:
    year = int(raw)
    return year + 2000 if year < 100 else year


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        found = date(y, m, d)
    except ValueError:
        return None
    return found if 1990 <= found.year <= 2100 else None


def find_dates(text: str, *, month_first: bool = False) -> list[FoundDate]:
    """Dates in `text` in order of appearance (overlapping matches resolved left to right)."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            ambiguous = False
            if kind == "ymd":
                value = _safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
            elif kind == "num":
                a, b, y = int(m["a"]), int(m["b"]), _year(m["y"])
                if a > 12 >= b:
                    value = _safe_date(y, b, a)
                elif b > 12 >= a:
                    value = _safe_date(y, a, b)
                else:
                    ambiguous = a != b
                    value = _safe_date(y, a, b) if month_first else _safe_date(y, b, a)
            else:
                month = MONTHS.get(m["mon"].lower())
                value = _safe_date(_year(m["y"]), month, int(m["d"])) if month else None
            if value is not None:
                found.append(FoundDate(value, m.start(), m.end(), ambiguous))
                taken.append((m.start(), m.end()))
    found.sort(key=lambda f: f.start)
    return found


def month_first_hint(text: str, language: str | None, currency: str | None) -> bool:
    """Whether ambiguous numeric dates in this document are month-first (US style)."""
    day_first = month_first = 0
    for m in DATE_PATTERNS[1][1].finditer(text):
        a, b = int(m["a"]), int(m["b"])
        if a > 12 >= b:
            day_first += 1
        elif b > 12 >= a:
            month_first += 1
    if day_first != month_first:
        return month_first > day_first
    # Dollars are US dollars unless said otherwise; English without a currency, likewise.
    return currency == "USD" or (language == "en" and currency is None)


def parse_date(text: str, *, month_first: bool = False) -> date | None:
    dates = find_dates(text, month_first=month_first)
    return dates[0].value if dates else None
