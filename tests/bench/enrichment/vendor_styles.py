"""Invoices written by hand in the styles of real vendors' documents (a cloud provider, a
hosted-billing service, a German trade business, a French SARL, Dutch, Spanish, UK VAT,
US freelancer, Nordic header-row table, Swiss, a paid SaaS invoice, a German utility bill,
and two scans): layouts, labels and wording that the generator (attache_devstack.documents)
does not make. A check that the extractors generalise beyond the generated set; the real
test is documents nobody here has seen (``evaluate --dir``).

    python -m tests.bench.enrichment.evaluate --set vendor-styles
"""

from __future__ import annotations

from typing import Any

from attache_devstack.documents import Page, render_image, render_pdf


def _page(lines: list[tuple]) -> Page:
    """Rows of (x mm, y mm, text[, size, bold, align]) or ("rule", y mm)."""
    page = Page()
    for line in lines:
        if line[0] == "rule":
            page.rule(15, line[1], 195)
            continue
        x, y, text = line[:3]
        size = line[3] if len(line) > 3 else 10
        bold = line[4] if len(line) > 4 else False
        align = line[5] if len(line) > 5 else "left"
        page.text(x, y, text, size, bold=bold, align=align)
    return page


def vendor_style_documents() -> list[tuple[str, bytes, dict[str, Any]]]:
    """(file name, bytes, labels) of every document."""
    docs: list[tuple[str, bytes, dict[str, Any]]] = []

    def add(name: str, lines: list[tuple], fields: dict[str, Any], image: bool = False) -> None:
        page = _page(lines)
        if image:
            docs.append((f"{name}.png", render_image(page, "sans", dpi=200), _labels(fields)))
        else:
            docs.append((f"{name}.pdf", render_pdf([page], "helvetica"), _labels(fields)))

        # 1 AWS style

    add(
        "aws",
        [
            (15, 20, "Amazon Web Services, Inc.", 14, True),
            (15, 26, "410 Terry Avenue North"),
            (15, 31, "Seattle, WA 98109-5210, US"),
            (140, 20, "Invoice", 16, True),
            (15, 50, "Bill to Address:", 10, True),
            (15, 55, "Example Corp"),
            (15, 60, "100 Main St"),
            (15, 65, "Springfield, IL 62701"),
            (110, 50, "Invoice Summary", 11, True),
            (110, 56, "Invoice Number:"),
            (195, 56, "1234567890", 10, False, "right"),
            (110, 61, "Invoice Date:"),
            (195, 61, "November 2, 2024", 10, False, "right"),
            (110, 66, "Account number:"),
            (195, 66, "123456789012", 10, False, "right"),
            (110, 76, "TOTAL AMOUNT DUE ON November 2, 2024", 10, True),
            (195, 76, "$1,234.56", 10, True, "right"),
            ("rule", 90),
            (15, 96, "Amazon Web Services Charges", 10, True),
            (195, 96, "$1,140.33", 10, False, "right"),
            (15, 102, "Total pre-tax"),
            (195, 102, "$1,140.33", 10, False, "right"),
            (15, 108, "Total tax"),
            (195, 108, "$94.23", 10, False, "right"),
            (15, 118, "Total for this invoice", 10, True),
            (195, 118, "USD 1,234.56", 10, True, "right"),
        ],
        {
            "amount": "1234.56",
            "currency": "USD",
            "invoiceNumber": "1234567890",
            "invoiceDate": "2024-11-02",
        },
    )

    # 2 Stripe style
    add(
        "stripe",
        [
            (15, 20, "Invoice", 18, True),
            (15, 32, "Invoice number"),
            (60, 32, "8A1B2C3D-0007"),
            (15, 37, "Date of issue"),
            (60, 37, "March 3, 2024"),
            (15, 42, "Date due"),
            (60, 42, "March 3, 2024"),
            (15, 55, "Linear Orbit Inc.", 10, True),
            (15, 60, "548 Market Street"),
            (15, 65, "San Francisco, California 94104"),
            (15, 70, "billing@linearorbit.example"),
            (110, 55, "Bill to", 10, True),
            (110, 60, "Jane Doe"),
            (110, 65, "jane@example.com"),
            (15, 85, "$15.00 USD due March 3, 2024", 14, True),
            ("rule", 95),
            (15, 100, "Description"),
            (120, 100, "Qty"),
            (150, 100, "Unit price"),
            (195, 100, "Amount", 10, False, "right"),
            (15, 107, "Pro plan (Mar 3 - Apr 3, 2024)"),
            (120, 107, "1"),
            (150, 107, "$15.00"),
            (195, 107, "$15.00", 10, False, "right"),
            (130, 120, "Subtotal"),
            (195, 120, "$15.00", 10, False, "right"),
            (130, 126, "Total"),
            (195, 126, "$15.00", 10, False, "right"),
            (130, 132, "Amount due", 10, True),
            (195, 132, "$15.00 USD", 10, True, "right"),
        ],
        {
            "amount": "15.00",
            "currency": "USD",
            "invoiceNumber": "8A1B2C3D-0007",
            "invoiceDate": "2024-03-03",
            "dueDate": "2024-03-03",
        },
    )

    # 3 German
    add(
        "de_handwerk",
        [
            (15, 18, "Elektro Schmidt GmbH · Hauptstraße 12 · 80331 München", 7),
            (15, 30, "Müller & Söhne KG"),
            (15, 35, "Herrn Peter Müller"),
            (15, 40, "Bahnhofstraße 5"),
            (15, 45, "60311 Frankfurt am Main"),
            (130, 30, "Elektro Schmidt GmbH", 11, True),
            (130, 36, "Hauptstraße 12"),
            (130, 41, "80331 München"),
            (130, 46, "Tel. 089 123456"),
            (15, 65, "Rechnung", 16, True),
            (130, 65, "Rechnungs-Nr.:"),
            (195, 65, "RE-2024-00123", 10, False, "right"),
            (130, 70, "Datum:"),
            (195, 70, "15.03.2024", 10, False, "right"),
            (130, 75, "Kunden-Nr.:"),
            (195, 75, "10045", 10, False, "right"),
            (15, 90, "Pos."),
            (30, 90, "Bezeichnung"),
            (130, 90, "Menge"),
            (195, 90, "Gesamt", 10, False, "right"),
            (15, 97, "1"),
            (30, 97, "Installation Unterverteilung"),
            (130, 97, "1"),
            (195, 97, "850,00 €", 10, False, "right"),
            (15, 103, "2"),
            (30, 103, "Material lt. Aufstellung"),
            (130, 103, "1"),
            (195, 103, "150,00 €", 10, False, "right"),
            (120, 115, "Nettobetrag"),
            (195, 115, "1.000,00 €", 10, False, "right"),
            (120, 121, "zzgl. 19 % MwSt."),
            (195, 121, "190,00 €", 10, False, "right"),
            (120, 128, "Gesamtbetrag", 10, True),
            (195, 128, "1.190,00 €", 10, True, "right"),
            (15, 145, "Bitte überweisen Sie den Betrag bis zum 29.03.2024 auf unser Konto."),
            (15, 150, "IBAN: DE89 3704 0044 0532 0130 00 · BIC: COBADEFFXXX"),
        ],
        {
            "amount": "1190.00",
            "currency": "EUR",
            "invoiceNumber": "RE-2024-00123",
            "invoiceDate": "2024-03-15",
            "dueDate": "2024-03-29",
        },
    )

    # 4 French
    add(
        "fr_ovh",
        [
            (15, 20, "SARL Informatique Durand", 12, True),
            (15, 26, "12 rue de la République"),
            (15, 31, "69002 Lyon"),
            (15, 36, "SIRET 123 456 789 00012"),
            (120, 50, "Client :"),
            (120, 55, "Boulangerie Martin"),
            (120, 60, "3 place du Marché"),
            (120, 65, "75004 Paris"),
            (15, 80, "FACTURE N° FA-2024-0456", 14, True),
            (15, 88, "Date : 12/04/2024"),
            (15, 93, "Date d'échéance : 12/05/2024"),
            (15, 108, "Désignation"),
            (120, 108, "Qté"),
            (150, 108, "PU HT"),
            (195, 108, "Montant HT", 10, False, "right"),
            (15, 115, "Maintenance annuelle"),
            (120, 115, "1"),
            (150, 115, "250,00"),
            (195, 115, "250,00", 10, False, "right"),
            (130, 130, "Total HT"),
            (195, 130, "250,00 €", 10, False, "right"),
            (130, 136, "TVA 20 %"),
            (195, 136, "50,00 €", 10, False, "right"),
            (130, 142, "Total TTC", 10, True),
            (195, 142, "300,00 €", 10, True, "right"),
            (130, 150, "Net à payer", 10, True),
            (195, 150, "300,00 €", 10, True, "right"),
        ],
        {
            "amount": "300.00",
            "currency": "EUR",
            "invoiceNumber": "FA-2024-0456",
            "invoiceDate": "2024-04-12",
            "dueDate": "2024-05-12",
        },
    )

    # 5 Dutch
    add(
        "nl_bureau",
        [
            (15, 20, "Van Dijk Advies B.V.", 13, True),
            (15, 26, "Keizersgracht 100"),
            (15, 31, "1015 CS Amsterdam"),
            (15, 36, "KvK 12345678  Btw NL001234567B01"),
            (15, 55, "Aan: De Vries Logistiek"),
            (15, 60, "Industrieweg 8"),
            (15, 65, "3044 AS Rotterdam"),
            (15, 80, "FACTUUR", 16, True),
            (15, 90, "Factuurnummer:"),
            (55, 90, "2024.0789"),
            (15, 95, "Factuurdatum:"),
            (55, 95, "5 maart 2024"),
            (15, 100, "Vervaldatum:"),
            (55, 100, "4 april 2024"),
            (15, 115, "Omschrijving"),
            (195, 115, "Bedrag", 10, False, "right"),
            (15, 121, "Advieswerkzaamheden februari 2024"),
            (195, 121, "€ 400,00", 10, False, "right"),
            (120, 135, "Totaal excl. btw"),
            (195, 135, "€ 400,00", 10, False, "right"),
            (120, 141, "Btw 21%"),
            (195, 141, "€ 84,00", 10, False, "right"),
            (120, 147, "Totaal incl. btw", 10, True),
            (195, 147, "€ 484,00", 10, True, "right"),
            (
                15,
                165,
                "Gelieve het totaalbedrag binnen 30 dagen over te maken op NL91 ABNA 0417 1643 00.",
            ),
        ],
        {
            "amount": "484.00",
            "currency": "EUR",
            "invoiceNumber": "2024.0789",
            "invoiceDate": "2024-03-05",
            "dueDate": "2024-04-04",
        },
    )

    # 6 Spanish
    add(
        "es_telefonia",
        [
            (15, 20, "Soluciones Levante S.L.", 13, True),
            (15, 26, "Calle Colón 25, 46004 Valencia"),
            (15, 31, "CIF: B12345678"),
            (120, 45, "Datos del cliente", 10, True),
            (120, 50, "Talleres García S.A."),
            (120, 55, "Avda. de Aragón 14"),
            (120, 60, "28010 Madrid"),
            (15, 75, "FACTURA", 16, True),
            (15, 85, "Nº Factura: F24/000123"),
            (15, 90, "Fecha de factura: 03/06/2024"),
            (15, 95, "Fecha de vencimiento: 03/07/2024"),
            (15, 110, "Concepto"),
            (195, 110, "Importe", 10, False, "right"),
            (15, 116, "Servicio de soporte técnico junio"),
            (195, 116, "100,00 €", 10, False, "right"),
            (120, 130, "Base imponible"),
            (195, 130, "100,00 €", 10, False, "right"),
            (120, 136, "IVA (21%)"),
            (195, 136, "21,00 €", 10, False, "right"),
            (120, 142, "TOTAL FACTURA", 10, True),
            (195, 142, "121,00 €", 10, True, "right"),
        ],
        {
            "amount": "121.00",
            "currency": "EUR",
            "invoiceNumber": "F24/000123",
            "invoiceDate": "2024-06-03",
            "dueDate": "2024-07-03",
        },
    )

    # 7 UK VAT invoice
    add(
        "uk_vat",
        [
            (15, 20, "Brightside Print Ltd", 13, True),
            (15, 26, "Unit 4, Riverside Park"),
            (15, 31, "Leeds LS1 4AB"),
            (15, 36, "VAT Reg No. GB 123 4567 89"),
            (140, 20, "VAT INVOICE", 14, True),
            (140, 30, "Invoice No: INV-10452"),
            (140, 35, "Tax point: 14/02/2024"),
            (140, 40, "Terms: 30 days"),
            (15, 55, "Invoice to:"),
            (15, 60, "Harper & Co Solicitors"),
            (15, 65, "22 King Street, York YO1 9XX"),
            (15, 80, "Qty"),
            (30, 80, "Description"),
            (150, 80, "Unit"),
            (195, 80, "Net", 10, False, "right"),
            (15, 86, "500"),
            (30, 86, "Letterheads A4 120gsm"),
            (150, 86, "£1.00"),
            (195, 86, "£500.00", 10, False, "right"),
            (140, 100, "Net"),
            (195, 100, "£500.00", 10, False, "right"),
            (140, 106, "VAT @ 20%"),
            (195, 106, "£100.00", 10, False, "right"),
            (140, 112, "Total", 10, True),
            (195, 112, "£600.00", 10, True, "right"),
            (140, 120, "Balance due", 10, True),
            (195, 120, "£600.00", 10, True, "right"),
        ],
        {
            "amount": "600.00",
            "currency": "GBP",
            "invoiceNumber": "INV-10452",
            "invoiceDate": "2024-02-14",
        },
    )

    # 8 US freelancer
    add(
        "us_freelance",
        [
            (15, 20, "INVOICE", 22, True),
            (140, 20, "INVOICE # 2024-015", 10, True),
            (140, 26, "DATE: 01/15/2024"),
            (140, 32, "DUE DATE: 02/14/2024"),
            (15, 40, "Sarah Lee Design Studio"),
            (15, 45, "77 Ocean Ave, Portland, OR 97201"),
            (15, 50, "(503) 555-0134"),
            (15, 65, "BILL TO", 10, True),
            (15, 70, "Northwind Traders"),
            (15, 75, "1 Commerce Plaza, Boise, ID 83702"),
            (15, 90, "DESCRIPTION", 10, True),
            (130, 90, "HOURS", 10, True),
            (155, 90, "RATE", 10, True),
            (195, 90, "AMOUNT", 10, True, "right"),
            (15, 96, "Website redesign"),
            (130, 96, "25"),
            (155, 96, "$110.00"),
            (195, 96, "$2,750.00", 10, False, "right"),
            (15, 102, "Logo refresh"),
            (130, 102, "5"),
            (155, 102, "$100.00"),
            (195, 102, "$500.00", 10, False, "right"),
            (140, 115, "SUBTOTAL"),
            (195, 115, "$3,250.00", 10, False, "right"),
            (140, 121, "TAX RATE"),
            (195, 121, "0.00%", 10, False, "right"),
            (140, 127, "BALANCE DUE", 11, True),
            (195, 127, "$3,250.00", 11, True, "right"),
        ],
        {
            "amount": "3250.00",
            "currency": "USD",
            "invoiceNumber": "2024-015",
            "invoiceDate": "2024-01-15",
            "dueDate": "2024-02-14",
        },
    )

    # 9 header row table style
    add(
        "table_header",
        [
            (15, 20, "Nordic Supplies AB", 13, True),
            (15, 26, "Storgatan 1, 111 22 Stockholm"),
            (15, 45, "INVOICE", 16, True),
            (15, 60, "Invoice No.", 9, True),
            (65, 60, "Invoice Date", 9, True),
            (115, 60, "Due Date", 9, True),
            (160, 60, "Customer No.", 9, True),
            (15, 66, "SE-88213"),
            (65, 66, "2024-09-30"),
            (115, 66, "2024-10-30"),
            (160, 66, "C-1042"),
            (15, 85, "Item"),
            (195, 85, "Amount", 10, False, "right"),
            (15, 91, "Office chairs x4"),
            (195, 91, "EUR 1,960.00", 10, False, "right"),
            (130, 105, "Net amount"),
            (195, 105, "EUR 1,960.00", 10, False, "right"),
            (130, 111, "VAT 25%"),
            (195, 111, "EUR 490.00", 10, False, "right"),
            (130, 117, "Amount due", 10, True),
            (195, 117, "EUR 2,450.00", 10, True, "right"),
        ],
        {
            "amount": "2450.00",
            "currency": "EUR",
            "invoiceNumber": "SE-88213",
            "invoiceDate": "2024-09-30",
            "dueDate": "2024-10-30",
        },
    )

    # 10 Swiss
    add(
        "ch_rechnung",
        [
            (15, 20, "Alpin Software AG", 13, True),
            (15, 26, "Bahnhofplatz 3, 8001 Zürich"),
            (15, 31, "MWST-Nr. CHE-123.456.789 MWST"),
            (15, 55, "Rechnung", 16, True),
            (15, 65, "Rechnungsnummer"),
            (60, 65, "100234"),
            (15, 70, "Rechnungsdatum"),
            (60, 70, "1. Februar 2024"),
            (15, 75, "Zahlbar bis"),
            (60, 75, "2. März 2024"),
            (15, 90, "Lizenz Pro (12 Monate)"),
            (195, 90, "CHF 1'142.50", 10, False, "right"),
            (130, 105, "Zwischensumme"),
            (195, 105, "CHF 1'142.50", 10, False, "right"),
            (130, 111, "MWST 8.1%"),
            (195, 111, "CHF 92.00", 10, False, "right"),
            (130, 117, "Total CHF", 10, True),
            (195, 117, "1'234.50", 10, True, "right"),
        ],
        {
            "amount": "1234.50",
            "currency": "CHF",
            "invoiceNumber": "100234",
            "invoiceDate": "2024-02-01",
            "dueDate": "2024-03-02",
        },
    )

    # 11 ISO code after amount, paid invoice
    add(
        "paid_saas",
        [
            (15, 20, "Cloudwise Ltd", 13, True),
            (15, 26, "Dublin 2, Ireland"),
            (140, 20, "RECEIPT / INVOICE", 11, True),
            (15, 40, "Invoice #: CW-2024-118832"),
            (15, 45, "Issued: 2024-05-20"),
            (15, 50, "Paid: 2024-05-20"),
            (15, 65, "Team plan, 10 seats"),
            (195, 65, "490.00 EUR", 10, False, "right"),
            (15, 71, "VAT (23%)"),
            (195, 71, "112.70 EUR", 10, False, "right"),
            (15, 80, "Total:", 10, True),
            (195, 80, "602.70 EUR", 10, True, "right"),
            (15, 86, "Amount paid:"),
            (195, 86, "602.70 EUR", 10, False, "right"),
            (15, 92, "Balance due:"),
            (195, 92, "0.00 EUR", 10, False, "right"),
        ],
        {
            "amount": "602.70",
            "currency": "EUR",
            "invoiceNumber": "CW-2024-118832",
            "invoiceDate": "2024-05-20",
        },
    )

    # 12 German utility, long number labels
    add(
        "de_strom",
        [
            (15, 20, "Stadtwerke Musterstadt GmbH", 12, True),
            (15, 26, "Postfach 1234, 12345 Musterstadt"),
            (15, 50, "Ihre Stromrechnung", 14, True),
            (120, 50, "Rechnungsnummer: 4711 0815 42"),
            (120, 55, "Vertragskonto: 200034567"),
            (120, 60, "Rechnungsdatum: 08.01.2024"),
            (15, 75, "Abrechnungszeitraum 01.01.2023 bis 31.12.2023"),
            (15, 85, "Verbrauch 3.250 kWh"),
            (15, 95, "Summe netto"),
            (195, 95, "1.050,42 EUR", 10, False, "right"),
            (15, 101, "Umsatzsteuer 19 %"),
            (195, 101, "199,58 EUR", 10, False, "right"),
            (15, 107, "Rechnungsbetrag brutto"),
            (195, 107, "1.250,00 EUR", 10, False, "right"),
            (15, 113, "abzüglich geleistete Abschläge"),
            (195, 113, "-1.100,00 EUR", 10, False, "right"),
            (15, 121, "Nachzahlung", 10, True),
            (195, 121, "150,00 EUR", 10, True, "right"),
        ],
        {"invoiceNumber": "4711 0815 42", "invoiceDate": "2024-01-08", "currency": "EUR"},
    )

    # 13 French scanned (image)
    add(
        "fr_scan",
        [
            (15, 20, "Plomberie Lefèvre", 14, True),
            (15, 27, "8 avenue Jean Jaurès, 33000 Bordeaux"),
            (15, 50, "Facture n° 2024-118", 14, True),
            (15, 58, "Bordeaux, le 7 mars 2024"),
            (15, 75, "Remplacement chauffe-eau"),
            (195, 75, "890,00 €", 11, False, "right"),
            (130, 90, "Total HT"),
            (195, 90, "890,00 €", 11, False, "right"),
            (130, 97, "TVA 10 %"),
            (195, 97, "89,00 €", 11, False, "right"),
            (130, 104, "Total TTC", 11, True),
            (195, 104, "979,00 €", 11, True, "right"),
        ],
        {
            "amount": "979.00",
            "currency": "EUR",
            "invoiceNumber": "2024-118",
            "invoiceDate": "2024-03-07",
        },
        image=True,
    )

    # 14 English scanned receipt-like invoice
    add(
        "en_scan",
        [
            (15, 20, "Greenleaf Landscaping LLC", 14, True),
            (15, 27, "45 Elm Road, Austin, TX 78701"),
            (15, 45, "Invoice No. 5521", 12, True),
            (15, 52, "Date: Aug 9, 2024"),
            (15, 58, "Due: Sep 8, 2024"),
            (15, 75, "Lawn care - August"),
            (195, 75, "$320.00", 11, False, "right"),
            (15, 82, "Hedge trimming"),
            (195, 82, "$80.00", 11, False, "right"),
            (130, 95, "Sales tax 8.25%"),
            (195, 95, "$33.00", 11, False, "right"),
            (130, 103, "TOTAL", 12, True),
            (195, 103, "$433.00", 12, True, "right"),
        ],
        {
            "amount": "433.00",
            "currency": "USD",
            "invoiceNumber": "5521",
            "invoiceDate": "2024-08-09",
            "dueDate": "2024-09-08",
        },
        image=True,
    )

    return docs


def _labels(fields: dict[str, Any]) -> dict[str, Any]:
    return {"documentType": "invoice", "fields": fields}
