"""Amounts, currencies and dates as five languages write them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attache_enricher.language import detect_language
from attache_enricher.normalise import (
    currencies_in,
    find_amounts,
    find_dates,
    month_first_hint,
    parse_amount,
)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1'234.50", "1234.50"),
        ("1234,5", "1234.5"),
        ("12,-", "12"),
        ("1.234", "1234"),
        ("1,234", "1234"),
        ("0,99", "0.99"),
        ("-45,00", "-45.00"),
        ("12.345.678,90", "12345678.90"),
    ],
)
def test_amounts_in_every_convention(raw, value):
    assert parse_amount(raw) == Decimal(value)


def test_amounts_in_text_carry_their_currency():
    found = list(find_amounts("Total TTC 1 234,56 €   EUR 99.00   $1,200.00   12,5 %"))
    assert [(m.value, m.currency) for m in found[:3]] == [
        (Decimal("1234.56"), "EUR"),
        (Decimal("99.00"), "EUR"),
        (Decimal("1200.00"), "USD"),
    ]
    # Parts of dates, invoice numbers and times are not amounts.
    assert not [m for m in find_amounts("INV-2024-0042") if m.value == 2024]


def test_currencies_symbols_and_codes():
    assert currencies_in("€ 12 / 3 USD / £5 / CHF 10 / US$ 4") == [
        "EUR",
        "USD",
        "GBP",
        "CHF",
        "USD",
    ]
    assert currencies_in("Europe and Eurostat, eur in lower case") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.03.2025", date(2025, 3, 15)),
        ("15/03/2025", date(2025, 3, 15)),
        ("2025-03-15", date(2025, 3, 15)),
        ("15 March 2025", date(2025, 3, 15)),
        ("March 15, 2025", date(2025, 3, 15)),
        ("Mar 15th, 2025", date(2025, 3, 15)),
        ("15. März 2025", date(2025, 3, 15)),
        ("15 mars 2025", date(2025, 3, 15)),
        ("1er février 2024", date(2024, 2, 1)),
        ("15 maart 2025", date(2025, 3, 15)),
        ("15 de marzo de 2025", date(2025, 3, 15)),
        ("15-Mar-2025", date(2025, 3, 15)),
        ("15.03.25", date(2025, 3, 15)),
        ("31/12/2024", date(2024, 12, 31)),
    ],
)
def test_dates_in_every_language(text, expected):
    assert find_dates(f"Datum: {text} ")[0].value == expected


def test_ambiguous_numeric_dates_follow_the_document():
    assert find_dates("03/04/2025")[0].value == date(2025, 4, 3)
    assert find_dates("03/04/2025", month_first=True)[0].value == date(2025, 3, 4)
    # A US document (English, dollars) writes month first; a component over 12 decides.
    assert month_first_hint("Invoice total $10", "en", "USD")
    assert not month_first_hint("Invoice total £10", "en", "GBP")
    assert month_first_hint("due 12/28/2024", "de", "EUR")
    assert not find_dates("version 3.12.2 of 2.1.0")  # version numbers aren't dates


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Please find attached the invoice for the services of this month.", "en"),
        ("Anbei erhalten Sie die Rechnung für die Leistungen des Monats.", "de"),
        ("Veuillez trouver ci-joint la facture pour les prestations du mois.", "fr"),
        ("Hierbij ontvangt u de factuur voor de werkzaamheden van deze maand.", "nl"),
        ("Adjuntamos la factura por los servicios prestados durante el mes.", "es"),
    ],
)
def test_language_detection(text, language):
    assert detect_language(text)[0] == language
