"""Field extraction on text laid out the way common real-world documents come out of
their PDFs: layouts the generator does not make (hosted-billing invoices, German letters
with the sender line above the address window, supermarket receipts …)."""

from __future__ import annotations

from attache_enricher.fields import extract_fields
from attache_enricher.language import detect_language
from attache_enricher.layout import from_text


def fields(kind: str, text: str) -> dict:
    text = "\n".join(line.strip() for line in text.strip().splitlines())
    language, _ = detect_language(text)
    result = extract_fields(kind, from_text(text), language)
    assert result is not None
    return result


def test_hosted_billing_invoice_in_english():
    got = fields(
        "invoice",
        """
        Invoice
        Invoice number   3F2A1B7C-0004
        Date of issue   January 5, 2024
        Date due   February 4, 2024
        Acme Software, Inc.
        510 Townsend Street
        San Francisco, California 94103
        billing@acme.com
        Bill to
        Jane Doe
        jane@example.org
        $1,250.00 USD due February 4, 2024
        Description   Qty   Unit price   Amount
        Pro plan (Jan 5 – Feb 5, 2024)   1   $1,250.00   $1,250.00
        Subtotal   $1,250.00
        Total   $1,250.00
        Amount due   $1,250.00 USD
        """,
    )
    assert got["amount"] == 1250.0 and got["currency"] == "USD"
    assert got["invoiceNumber"] == "3F2A1B7C-0004"
    assert got["invoiceDate"] == "2024-01-05" and got["dueDate"] == "2024-02-04"
    assert got["vendor"] == "Acme Software, Inc."
    assert got["isPaid"] is False and got["paymentStatus"] == "unpaid"


def test_german_letter_invoice_with_sender_line_and_payment_term():
    got = fields(
        "invoice",
        """
        Muster GmbH · Musterweg 1 · 12345 Musterstadt
        Beispiel AG
        Hauptstr. 5
        80331 München
        Rechnung
        Rechnungsnr.   RE-1042
        Rechnungsdatum   04.03.2024
        Lieferdatum   01.03.2024
        Kundennr.   10023
        Pos.   Beschreibung   Menge   Einzelpreis   Gesamtpreis
        1   Webdesign   10 Std.   85,00 €   850,00 €
        Gesamtbetrag netto   850,00 €
        zzgl. Umsatzsteuer 19%   161,50 €
        Gesamtbetrag brutto   1.011,50 €
        Bitte überweisen Sie den Rechnungsbetrag innerhalb von 14 Tagen.
        """,
    )
    assert got["amount"] == 1011.5 and got["currency"] == "EUR"
    assert got["invoiceNumber"] == "RE-1042"
    assert got["invoiceDate"] == "2024-03-04" and got["dueDate"] == "2024-03-18"
    assert got["vendor"] == "Muster GmbH"


def test_french_invoice_number_in_the_title_and_net_a_payer():
    got = fields(
        "invoice",
        """
        Dupont Rénovation SARL
        12 rue des Lilas, 69003 Lyon
        FACTURE N° FA-2024-0153
        Date : 12/02/2024
        Échéance : 13/03/2024
        Client : Martin Immobilier
        Total HT   1 200,00 €
        TVA (20 %)   240,00 €
        Total TTC   1 440,00 €
        Net à payer   1 440,00 €
        """,
    )
    assert got["amount"] == 1440.0 and got["currency"] == "EUR"
    assert got["invoiceNumber"] == "FA-2024-0153"
    assert got["invoiceDate"] == "2024-02-12" and got["dueDate"] == "2024-03-13"
    assert got["vendor"] == "Dupont Rénovation SARL"


def test_dutch_invoice_with_labels_and_colons():
    got = fields(
        "invoice",
        """
        Bakker Installatietechniek B.V.
        Factuur
        Factuurnummer: 2024-0087
        Factuurdatum: 15-01-2024
        Vervaldatum: 14-02-2024
        Subtotaal   € 500,00
        BTW 21%   € 105,00
        Totaal   € 605,00
        """,
    )
    assert got["amount"] == 605.0 and got["invoiceNumber"] == "2024-0087"
    assert got["invoiceDate"] == "2024-01-15" and got["dueDate"] == "2024-02-14"
    assert got["vendor"] == "Bakker Installatietechniek B.V."


def test_spanish_invoice_with_issuer_label_and_paid_stamp():
    got = fields(
        "invoice",
        """
        FACTURA
        Nº Factura: A/2024/312
        Fecha: 20/05/2024
        Emisor: Construcciones García S.L.
        Cliente: Hotel Mar Azul S.A.
        Base imponible   2.000,00 €
        IVA (21%)   420,00 €
        TOTAL   2.420,00 €
        PAGADA
        """,
    )
    assert got["amount"] == 2420.0 and got["invoiceNumber"] == "A/2024/312"
    assert got["invoiceDate"] == "2024-05-20"
    assert got["vendor"] == "Construcciones García S.L."
    assert got["isPaid"] is True and got["paymentStatus"] == "paid"


def test_labels_above_values_in_a_header_row():
    got = fields(
        "invoice",
        """
        Northwind Traders Ltd
        INVOICE
        Invoice No.          Invoice Date          Due Date
        INV-88231            14/06/2024            14/07/2024
        Total due   £3,480.00
        """,
    )
    assert got["invoiceNumber"] == "INV-88231"
    assert got["invoiceDate"] == "2024-06-14" and got["dueDate"] == "2024-07-14"
    assert got["amount"] == 3480.0 and got["currency"] == "GBP"


def test_a_zero_balance_due_means_paid_and_the_total_is_the_amount():
    got = fields(
        "invoice",
        """
        Brightline Consulting LLC
        Invoice #1043
        Date: 03/08/2024
        Total   $920.00
        Payment received   $920.00
        Balance due   $0.00
        """,
    )
    assert got["amount"] == 920.0 and got["isPaid"] is True
    assert got["invoiceNumber"] == "1043" and got["invoiceDate"] == "2024-03-08"


def test_utility_bill_with_a_grouped_number_and_the_due_date_in_a_sentence():
    got = fields(
        "invoice",
        """
        Stadtwerke Musterstadt GmbH
        Ihre Stromrechnung
        Rechnungsnummer: 4711 0815 42
        Rechnungsdatum: 08.01.2024
        Abrechnungszeitraum 01.01.2023 bis 31.12.2023
        Rechnungsbetrag brutto   1.250,00 EUR
        Bitte überweisen Sie den Betrag bis zum 29.01.2024 auf unser Konto.
        """,
    )
    assert got["invoiceNumber"] == "4711 0815 42"
    assert got["invoiceDate"] == "2024-01-08"
    assert got["dueDate"] == "2024-01-29"


def test_french_vat_regime_and_referenced_invoice_date_are_ignored():
    got = fields(
        "invoice",
        """
        FOURNISSEUR SARL
        FACTURE N° : F20260023
        Date de facture : 31/01/2026
        DATE DE FACTURE ASSOCIÉE : 01/01/2026
        Date d'échéance : 02/03/2026
        TOTAL TTC   104,90
        TVA acquittée sur les encaissements
        NET A PAYER 104,90 EUR
        NOM : PAYEE NAME
        """,
    )
    assert got["amount"] == 104.9 and got["invoiceNumber"] == "F20260023"
    assert got["invoiceDate"] == "2026-01-31"
    assert got["isPaid"] is False and got["paymentStatus"] == "unpaid"


def test_supermarket_receipt():
    got = fields(
        "receipt",
        """
        GREEN GROCER
        12 Market Road
        Springfield
        BANANAS   1.29
        WHOLE MILK   3.49
        BREAD   2.99
        SUBTOTAL   7.77
        TAX   0.62
        TOTAL   8.39
        VISA TEND   8.39
        CHANGE DUE   0.00
        02/14/24   14:32:10
        THANK YOU FOR SHOPPING WITH US
        """,
    )
    assert got["total"] == 8.39 and got["date"] == "2024-02-14"
    assert got["merchant"] == "GREEN GROCER"


def test_german_receipt_with_summe_and_cash():
    got = fields(
        "receipt",
        """
        Bäckerei Schneider
        Lindenstraße 3, 50667 Köln
        Brötchen   2,40
        Kaffee   3,20
        SUMME EUR   5,60
        BAR   10,00
        Rückgeld   4,40
        15.03.2025 08:12
        """,
    )
    assert got["total"] == 5.6 and got["currency"] == "EUR"
    assert got["date"] == "2025-03-15" and got["merchant"] == "Bäckerei Schneider"


def test_contract_parties_and_term_in_english():
    got = fields(
        "contract",
        """
        MASTER SERVICES AGREEMENT
        This Master Services Agreement is entered into as of March 1, 2024 by and between
        Globex Corporation, a Delaware corporation ("Customer"), and
        Initech Ltd, a company registered in England ("Supplier").
        1. Term. This Agreement shall commence on the Effective Date and continue for a
        term of twenty-four months unless terminated earlier.
        The initial term is 24 months.
        """,
    )
    assert got["parties"] == ["Globex Corporation", "Initech Ltd"]
    assert got["effectiveDate"] == "2024-03-01"
    assert got["expirationDate"] == "2026-02-28"


def test_contract_with_dates_in_german():
    got = fields(
        "contract",
        """
        Mietvertrag
        zwischen
        Hausverwaltung Krüger GmbH, Bahnhofstraße 4, 10115 Berlin (nachfolgend „Vermieter“)
        und
        Beta Software UG, Torstraße 9, 10119 Berlin (nachfolgend „Mieter“).
        § 2 Mietzeit: Das Mietverhältnis beginnt am 01.04.2024 und endet am 31.03.2027.
        """,
    )
    assert got["parties"] == ["Hausverwaltung Krüger GmbH", "Beta Software UG"]
    assert got["effectiveDate"] == "2024-04-01" and got["expirationDate"] == "2027-03-31"
