# ruff: noqa: E501 - lexicons and sample texts read best one entry per line
"""Business documents with known answers, for the enricher's tests and its evaluation set.

`make_document(spec)` renders one document — an invoice, receipt, contract, report,
bank statement, résumé, presentation, spreadsheet, photo or letter — in English,
German, French, Dutch or Spanish, in one of several layouts and fonts, as a PDF
(reportlab), an image (Pillow: PNG, or JPEG with the blur and tilt of a phone
photo), DOCX, XLSX, CSV, HTML or e-mail, and returns its bytes with the labels a
person would give it (document type; amount, currency, dates, number, vendor …).

Everything is derived from `spec.seed`, so a spec in a manifest regenerates the same
document anywhere. Needs reportlab (a dev dependency) for PDFs and Pillow for images.
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

KINDS = (
    "invoice",
    "receipt",
    "contract",
    "report",
    "statement",
    "resume",
    "presentation",
    "spreadsheet",
    "image",
    "other",
)
LANGUAGES = ("en", "de", "fr", "nl", "es")
FONTS = ("sans", "serif", "mono", "dejavu", "helvetica", "times")

# ---- fonts ------------------------------------------------------------------------------

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _reportlab_fonts() -> Path:
    import reportlab

    return Path(reportlab.__file__).parent / "fonts"


def _font_files(family: str) -> tuple[Path, Path]:
    vera = _reportlab_fonts()
    candidates = {
        "sans": (vera / "Vera.ttf", vera / "VeraBd.ttf"),
        "helvetica": (vera / "Vera.ttf", vera / "VeraBd.ttf"),
        "dejavu": (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"),
        "serif": (_DEJAVU / "DejaVuSerif.ttf", _DEJAVU / "DejaVuSerif-Bold.ttf"),
        "times": (_DEJAVU / "DejaVuSerif.ttf", _DEJAVU / "DejaVuSerif-Bold.ttf"),
        "mono": (_DEJAVU / "DejaVuSansMono.ttf", _DEJAVU / "DejaVuSansMono-Bold.ttf"),
    }[family]
    if not candidates[0].exists():  # a machine without DejaVu: Vera ships with reportlab
        return vera / "Vera.ttf", vera / "VeraBd.ttf"
    return candidates


# ---- a page: positioned text, rendered to PDF or to pixels -------------------------------


@dataclass
class Text:
    x: float  # mm from the left (right edge for align="right", centre for "center")
    y: float  # mm from the top (baseline)
    text: str
    size: float = 10.0
    bold: bool = False
    align: str = "left"


@dataclass
class Rule:
    x0: float
    y: float
    x1: float


@dataclass
class Page:
    width: float = 210.0  # mm
    height: float = 297.0
    items: list[Text | Rule] = field(default_factory=list)

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float = 10.0,
        *,
        bold: bool = False,
        align: str = "left",
    ) -> None:
        self.items.append(Text(x, y, text, size, bold, align))

    def rule(self, x0: float, y: float, x1: float) -> None:
        self.items.append(Rule(x0, y, x1))


MM = 72 / 25.4


def render_pdf(pages: list[Page], font: str) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if font in ("helvetica", "times"):
        regular, bold = {
            "helvetica": ("Helvetica", "Helvetica-Bold"),
            "times": ("Times-Roman", "Times-Bold"),
        }[font]
    else:
        files = _font_files(font)
        regular, bold = f"attache-{font}", f"attache-{font}-bold"
        if regular not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(regular, str(files[0])))
            pdfmetrics.registerFont(TTFont(bold, str(files[1])))
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(pages[0].width * MM, pages[0].height * MM), invariant=1)
    for page in pages:
        c.setPageSize((page.width * MM, page.height * MM))
        for item in page.items:
            if isinstance(item, Rule):
                c.setLineWidth(0.5)
                c.line(
                    item.x0 * MM,
                    (page.height - item.y) * MM,
                    item.x1 * MM,
                    (page.height - item.y) * MM,
                )
                continue
            c.setFont(bold if item.bold else regular, item.size)
            x, y = item.x * MM, (page.height - item.y) * MM
            if item.align == "right":
                c.drawRightString(x, y, item.text)
            elif item.align == "center":
                c.drawCentredString(x, y, item.text)
            else:
                c.drawString(x, y, item.text)
        c.showPage()
    c.save()
    return buffer.getvalue()


def render_image(
    page: Page, font: str, *, dpi: int = 150, photo: bool = False, seed: int = 0, fmt: str = "PNG"
) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    scale = dpi / 25.4
    width, height = round(page.width * scale), round(page.height * scale)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    files = _font_files(font)
    cache: dict[tuple[float, bool], Any] = {}
    for item in page.items:
        if isinstance(item, Rule):
            draw.line(
                [(item.x0 * scale, item.y * scale), (item.x1 * scale, item.y * scale)],
                fill=80,
                width=max(1, dpi // 150),
            )
            continue
        key = (item.size, item.bold)
        if key not in cache:
            cache[key] = ImageFont.truetype(
                str(files[1] if item.bold else files[0]), round(item.size * dpi / 72)
            )
        face = cache[key]
        x, y = item.x * scale, item.y * scale
        anchor = {"left": "ls", "right": "rs", "center": "ms"}[item.align]
        draw.text((x, y), item.text, font=face, fill=0, anchor=anchor)
    if photo:
        rng = random.Random(seed)
        image = image.rotate(
            rng.uniform(-1.2, 1.2), expand=True, fillcolor=235, resample=Image.Resampling.BICUBIC
        )
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        noise = Image.effect_noise(image.size, 12)
        image = Image.blend(image, noise, 0.06)
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=85)
    else:
        image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


# ---- vocabulary ---------------------------------------------------------------------------

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}


def format_date(value: date, language: str, style: int) -> str:
    months = MONTHS[language].split()
    if style == 0:
        return value.isoformat()
    if language == "en":
        return [
            f"{value.month:02d}/{value.day:02d}/{value.year}",
            f"{months[value.month - 1]} {value.day}, {value.year}",
            f"{value.day} {months[value.month - 1]} {value.year}",
            f"{months[value.month - 1][:3]} {value.day}, {value.year}",
            f"{value.day:02d}/{value.month:02d}/{value.year}",
        ][style % 5]
    if language == "de":
        return [
            f"{value.day:02d}.{value.month:02d}.{value.year}",
            f"{value.day}. {months[value.month - 1]} {value.year}",
            f"{value.day:02d}.{value.month:02d}.{value.year % 100:02d}",
        ][style % 3]
    if language == "fr":
        return [
            f"{value.day:02d}/{value.month:02d}/{value.year}",
            f"{value.day} {months[value.month - 1]} {value.year}",
            f"{value.day:02d}.{value.month:02d}.{value.year}",
        ][style % 3]
    if language == "nl":
        return [
            f"{value.day:02d}-{value.month:02d}-{value.year}",
            f"{value.day} {months[value.month - 1]} {value.year}",
            f"{value.day:02d}/{value.month:02d}/{value.year}",
        ][style % 3]
    return [
        f"{value.day:02d}/{value.month:02d}/{value.year}",
        f"{value.day} de {months[value.month - 1]} de {value.year}",
        f"{value.day:02d}-{value.month:02d}-{value.year}",
    ][style % 3]


def format_amount(value: Decimal, language: str, currency: str, style: int) -> str:
    q = value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    whole, cents = f"{q:.2f}".split(".")
    groups = f"{int(whole):,}"
    symbol = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}[currency]
    if language == "en":
        number = f"{groups}.{cents}"
        return [f"{symbol}{number}", f"{number} {currency}", f"{currency} {number}"][style % 3]
    thousands = {"de": ".", "fr": "\u00a0", "nl": ".", "es": "."}[language]
    number = f"{groups.replace(',', thousands)},{cents}"
    if language == "nl":
        return [f"{symbol} {number}", f"{currency} {number}", f"{number} {symbol}"][style % 3]
    return [f"{number} {symbol}", f"{number} {currency}", f"{currency} {number}"][style % 3]


ROOTS = [
    "Acme",
    "Nordwind",
    "Blue Harbor",
    "Lumen",
    "Kestrel",
    "Vertex",
    "Solaris",
    "Brightline",
    "Orbis",
    "Falkenberg",
    "Maritime",
    "Greenfield",
    "Helios",
    "Quantum",
    "Atlas",
    "Polaris",
    "Silverline",
    "Cedar",
    "Rheinland",
    "Bellevue",
    "Vanguard",
    "Meridian",
    "Alpina",
    "Ibérica",
    "Delta",
    "Zuiderzee",
    "Lorraine",
    "Castell",
]
TRADES = {
    "en": ["Consulting", "Software", "Logistics", "Design Studio", "Supplies", "Services"],
    "de": ["Beratung", "Software", "Logistik", "Technik", "Handel", "Bau"],
    "fr": ["Conseil", "Informatique", "Logistique", "Design", "Services", "Bâtiment"],
    "nl": ["Advies", "Software", "Logistiek", "Techniek", "Handel", "Bouw"],
    "es": ["Consultoría", "Software", "Logística", "Diseño", "Servicios", "Suministros"],
}
LEGAL = {
    "en": ["Ltd", "Inc.", "LLC", "Corp."],
    "de": ["GmbH", "AG", "KG"],
    "fr": ["SARL", "SAS", "S.A."],
    "nl": ["B.V.", "N.V."],
    "es": ["S.L.", "S.A."],
}
STREETS = {
    "en": ["{n} High Street", "{n} Market Road", "{n} Baker Avenue"],
    "de": ["Hauptstraße {n}", "Bahnhofstraße {n}", "Am Markt {n}"],
    "fr": ["{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Voltaire"],
    "nl": ["Kerkstraat {n}", "Stationsweg {n}", "Dorpsplein {n}"],
    "es": ["Calle Mayor {n}", "Avenida de la Constitución {n}", "Plaza España {n}"],
}
CITIES = {
    "en": ["London EC1A 1BB", "Springfield, IL 62704", "Manchester M1 2AB"],
    "de": ["10115 Berlin", "80331 München", "50667 Köln"],
    "fr": ["75002 Paris", "69001 Lyon", "13001 Marseille"],
    "nl": ["1012 AB Amsterdam", "3011 AA Rotterdam", "3511 AB Utrecht"],
    "es": ["28013 Madrid", "08002 Barcelona", "46001 Valencia"],
}
PEOPLE = [
    "Anna Schmidt",
    "John Carter",
    "Marie Dubois",
    "Pieter de Vries",
    "Lucía García",
    "Thomas Müller",
    "Emma Wilson",
    "Sophie Martin",
    "Jan Jansen",
    "Carlos López",
    "Laura Fischer",
    "David Brown",
    "Claire Moreau",
    "Lotte Bakker",
    "Elena Ruiz",
]
ITEMS = {
    "en": [
        "Consulting services",
        "Software licence",
        "Website maintenance",
        "Hosting (monthly)",
        "Training workshop",
        "Support hours",
        "Project management",
        "Design work",
    ],
    "de": [
        "Beratungsleistung",
        "Softwarelizenz",
        "Wartung Website",
        "Hosting (monatlich)",
        "Schulung",
        "Supportstunden",
        "Projektleitung",
        "Gestaltung",
    ],
    "fr": [
        "Prestation de conseil",
        "Licence logicielle",
        "Maintenance du site",
        "Hébergement (mensuel)",
        "Formation",
        "Heures de support",
        "Gestion de projet",
    ],
    "nl": [
        "Advieswerkzaamheden",
        "Softwarelicentie",
        "Onderhoud website",
        "Hosting (maandelijks)",
        "Training",
        "Supporturen",
        "Projectmanagement",
        "Ontwerpwerk",
    ],
    "es": [
        "Servicios de consultoría",
        "Licencia de software",
        "Mantenimiento web",
        "Alojamiento (mensual)",
        "Formación",
        "Horas de soporte",
        "Gestión de proyecto",
    ],
}
GROCERIES = {
    "en": ["Milk 1L", "Bread", "Coffee beans", "Apples", "Cheddar", "Orange juice", "Pasta"],
    "de": ["Milch 1L", "Brot", "Kaffee", "Äpfel", "Käse", "Orangensaft", "Nudeln"],
    "fr": ["Lait 1L", "Baguette", "Café", "Pommes", "Fromage", "Jus d'orange", "Pâtes"],
    "nl": ["Melk 1L", "Brood", "Koffie", "Appels", "Kaas", "Sinaasappelsap", "Pasta"],
    "es": ["Leche 1L", "Pan", "Café", "Manzanas", "Queso", "Zumo de naranja", "Pasta"],
}

INVOICE_LABELS = {
    "en": dict(
        title=["INVOICE", "Invoice", "TAX INVOICE"],
        number=["Invoice No.", "Invoice #", "Invoice Number", "Invoice number"],
        date=["Invoice Date", "Date", "Date of issue", "Issue date"],
        due=["Due Date", "Payment due", "Due date"],
        total=["Total due", "Amount due", "Total", "Balance due", "Grand Total"],
        subtotal=["Subtotal", "Net amount"],
        tax=["VAT 20%", "Tax 8.25%", "Sales tax"],
        bill=["Bill to", "Billed to", "Invoice to"],
        cols=["Description", "Qty", "Unit price", "Amount"],
        thanks="Thank you for your business.",
        pay="Please pay within {d} days.",
        paid="PAID",
        bank="Bank details",
    ),
    "de": dict(
        title=["RECHNUNG", "Rechnung"],
        number=["Rechnungsnummer", "Rechnung Nr.", "Rechnungs-Nr."],
        date=["Rechnungsdatum", "Datum"],
        due=["Fälligkeitsdatum", "Zahlbar bis", "Fällig am"],
        total=["Gesamtbetrag", "Rechnungsbetrag", "Zu zahlen", "Summe brutto"],
        subtotal=["Zwischensumme", "Nettobetrag"],
        tax=["MwSt. 19%", "USt. 19 %"],
        bill=["Rechnungsempfänger", "Kunde"],
        cols=["Beschreibung", "Menge", "Einzelpreis", "Betrag"],
        thanks="Vielen Dank für Ihren Auftrag.",
        pay="Zahlbar innerhalb von {d} Tagen ohne Abzug.",
        paid="BEZAHLT",
        bank="Bankverbindung",
    ),
    "fr": dict(
        title=["FACTURE", "Facture"],
        number=["N° de facture", "Facture n°", "Numéro de facture"],
        date=["Date de facturation", "Date", "Date de la facture"],
        due=["Date d'échéance", "Échéance", "À payer avant le"],
        total=["Total TTC", "Net à payer", "Montant total TTC"],
        subtotal=["Total HT", "Sous-total"],
        tax=["TVA 20 %"],
        bill=["Facturé à", "Client"],
        cols=["Désignation", "Qté", "Prix unitaire", "Montant"],
        thanks="Merci de votre confiance.",
        pay="Paiement à {d} jours.",
        paid="PAYÉE",
        bank="Coordonnées bancaires",
    ),
    "nl": dict(
        title=["FACTUUR", "Factuur"],
        number=["Factuurnummer", "Factuur nr."],
        date=["Factuurdatum", "Datum"],
        due=["Vervaldatum", "Te betalen voor"],
        total=["Totaal te betalen", "Totaal incl. btw", "Te betalen"],
        subtotal=["Subtotaal", "Totaal excl. btw"],
        tax=["BTW 21%"],
        bill=["Factuuradres", "Klant"],
        cols=["Omschrijving", "Aantal", "Prijs", "Bedrag"],
        thanks="Bedankt voor uw opdracht.",
        pay="Gelieve binnen {d} dagen te betalen.",
        paid="BETAALD",
        bank="Bankgegevens",
    ),
    "es": dict(
        title=["FACTURA", "Factura"],
        number=["Nº de factura", "Factura nº", "Número de factura"],
        date=["Fecha de factura", "Fecha", "Fecha de emisión"],
        due=["Fecha de vencimiento", "Vencimiento"],
        total=["Total a pagar", "Importe total", "Total factura"],
        subtotal=["Base imponible", "Subtotal"],
        tax=["IVA 21%"],
        bill=["Facturar a", "Cliente"],
        cols=["Descripción", "Cant.", "Precio unitario", "Importe"],
        thanks="Gracias por su confianza.",
        pay="Pago a {d} días.",
        paid="PAGADA",
        bank="Datos bancarios",
    ),
}
TAX_RATE = {
    "en": Decimal("0.20"),
    "de": Decimal("0.19"),
    "fr": Decimal("0.20"),
    "nl": Decimal("0.21"),
    "es": Decimal("0.21"),
}


@dataclass
class DocumentSpec:
    kind: str
    language: str = "en"
    layout: int = 0
    fmt: str = "pdf"  # pdf, png, jpeg (photo), docx, xlsx, csv, txt, html, eml
    font: str = "sans"
    seed: int = 0

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.language}-l{self.layout}-{self.font}-{self.seed}.{self.fmt}"


@dataclass
class GeneratedDocument:
    spec: DocumentSpec
    filename: str
    content_type: str
    data: bytes
    labels: dict[str, Any]


CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "html": "text/html",
    "eml": "message/rfc822",
}


def _company(rng: random.Random, language: str) -> str:
    root = rng.choice(ROOTS)
    trade = rng.choice(TRADES[language])
    return f"{root} {trade} {rng.choice(LEGAL[language])}"


def _address(rng: random.Random, language: str) -> list[str]:
    return [
        rng.choice(STREETS[language]).format(n=rng.randint(1, 180)),
        rng.choice(CITIES[language]),
    ]


def _currency(rng: random.Random, language: str) -> str:
    if language == "en":
        return rng.choice(["USD", "GBP", "EUR", "USD"])
    return "EUR" if rng.random() > 0.1 else "CHF" if language in ("de", "fr") else "EUR"


def _date_style(rng: random.Random, language: str, currency: str) -> int:
    """A date format people of this language (and, in English, currency) write."""
    if language != "en":
        return rng.randrange(0, 4)
    # 5 is MM/DD/YYYY (US), 4 is DD/MM/YYYY (UK and Europe): never the other way round.
    return rng.choice([0, 5, 1, 3, 2] if currency == "USD" else [0, 1, 2, 3, 4])


def _number(value: Decimal, language: str) -> str:
    """An amount without a currency, as the language writes it (receipt lines)."""
    whole, cents = f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):.2f}".split(".")
    groups = f"{int(whole):,}"
    if language == "en":
        return f"{groups}.{cents}"
    return f"{groups.replace(',', '.')},{cents}"


# ---- invoices -----------------------------------------------------------------------------


def _invoice_number(rng: random.Random, year: int) -> str:
    n = rng.randint(1, 99999)
    return rng.choice(
        [
            f"INV-{year}-{n % 10000:04d}",
            f"{year}{n:05d}",
            f"RE-{n}",
            f"F{year}-{n % 1000:03d}",
            f"{n:06d}",
            f"A-{n % 9999}/{year % 100}",
            f"FV{year}/{n % 1000}",
            f"{year}-{n % 1000:03d}",
            f"INV{n:05d}",
            f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPQRS')}-{n % 100000:05d}",
        ]
    )


def invoice(spec: DocumentSpec) -> tuple[list[Page], dict[str, Any], list[str]]:
    rng = random.Random(spec.seed)
    lang = spec.language
    L = INVOICE_LABELS[lang]
    vendor = _company(rng, lang)
    customer = _company(rng, rng.choice(LANGUAGES)) if rng.random() < 0.6 else rng.choice(PEOPLE)
    currency = _currency(rng, lang)
    issued = date(2023, 1, 1) + timedelta(days=rng.randint(0, 1000))
    days = rng.choice([14, 30, 30, 45, 10])
    due = issued + timedelta(days=days)
    number = _invoice_number(rng, issued.year)
    dstyle = _date_style(rng, lang, currency)
    astyle = rng.randrange(3)
    paid = rng.random() < 0.2
    items = []
    for _ in range(rng.randint(1, 5)):
        qty = rng.randint(1, 12)
        price = Decimal(rng.randint(500, 250000)) / 100
        items.append((rng.choice(ITEMS[lang]), qty, price, price * qty))
    net = sum((i[3] for i in items), Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    rate = TAX_RATE[lang] if not (lang == "en" and currency == "USD") else Decimal("0.0825")
    tax = (net * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    total = net + tax
    pick = lambda key: rng.choice(L[key])  # noqa: E731
    money = lambda v: format_amount(v, lang, currency, astyle)  # noqa: E731
    fdate = lambda v: format_date(v, lang, dstyle)  # noqa: E731
    page = Page()
    layout = spec.layout % 6
    y = 20.0
    show_due = rng.random() < 0.8
    total_label = pick("total")
    if layout == 0:  # letterhead left, title right, meta rows right
        page.text(20, y, vendor, 15, bold=True)
        for line in _address(rng, lang):
            y += 5
            page.text(20, y, line, 9)
        page.text(190, 22, pick("title"), 20, bold=True, align="right")
        my = 40.0
        meta = [(pick("number"), number), (pick("date"), fdate(issued))]
        if show_due:
            meta.append((pick("due"), fdate(due)))
        for label, value in meta:
            page.text(125, my, label, 9)
            page.text(190, my, value, 9, align="right")
            my += 5.5
        y = max(y, my) + 10
        page.text(20, y, pick("bill"), 9, bold=True)
        page.text(20, y + 5, customer, 9)
        for i, line in enumerate(_address(rng, rng.choice(LANGUAGES))):
            page.text(20, y + 10 + 5 * i, line, 9)
        y += 30
    elif layout == 1:  # centred name, labels in a header row, values under them
        page.text(105, y, vendor, 16, bold=True, align="center")
        page.text(105, y + 6, "  ·  ".join(_address(rng, lang)), 8, align="center")
        y += 20
        page.text(20, y, pick("title"), 18, bold=True)
        y += 12
        cols = [(20, pick("number"), number), (75, pick("date"), fdate(issued))]
        if show_due:
            cols.append((125, pick("due"), fdate(due)))
        for x, label, value in cols:
            page.text(x, y, label, 8, bold=True)
            page.text(x, y + 5, value, 10)
        y += 16
        page.text(20, y, f"{pick('bill')}: {customer}", 9)
        y += 12
    elif layout == 2:  # everything "Label: value", left
        page.text(20, y, pick("title"), 18, bold=True)
        y += 10
        page.text(20, y, vendor, 11, bold=True)
        for line in _address(rng, lang):
            y += 5
            page.text(20, y, line, 9)
        y += 10
        page.text(20, y, f"{pick('number')}: {number}", 10)
        y += 5.5
        page.text(20, y, f"{pick('date')}: {fdate(issued)}", 10)
        if show_due:
            y += 5.5
            page.text(20, y, f"{pick('due')}: {fdate(due)}", 10)
        y += 10
        page.text(20, y, f"{pick('bill')}:", 10, bold=True)
        page.text(20, y + 5, customer, 10)
        y += 18
    elif layout == 4:  # business letter: sender line over the window, number in the subject
        address = _address(rng, lang)
        page.text(20, 45, f"{vendor} · {address[0]} · {address[1]}", 7)
        page.rule(20, 46.5, 105)
        page.text(20, 53, customer, 10)
        for i, line in enumerate(_address(rng, rng.choice(LANGUAGES))):
            page.text(20, 58 + 5 * i, line, 10)
        page.text(190, 20, vendor, 14, bold=True, align="right")
        page.text(190, 26, address[1], 8, align="right")
        city = address[1].split()[-1]
        page.text(190, 80, f"{city}, {fdate(issued)}", 10, align="right")
        page.text(20, 95, f"{pick('title')} {number}", 12, bold=True)
        y = 108
        if show_due:
            page.text(20, y - 4, f"{pick('due')}: {fdate(due)}", 9)
            y += 4
    elif layout == 5:  # a summary box on the right: amount due and due date first
        page.text(20, y + 2, f"{pick('title')} #{number}", 18, bold=True)
        page.text(20, y + 10, vendor, 10)
        page.text(20, y + 15, ", ".join(_address(rng, lang)), 8)
        page.rule(120, y - 5, 190)
        page.text(125, y + 2, pick("total"), 9)
        page.text(188, y + 2, money(total), 12, bold=True, align="right")
        page.text(125, y + 9, pick("date"), 9)
        page.text(188, y + 9, fdate(issued), 9, align="right")
        if show_due:
            page.text(125, y + 16, pick("due"), 9)
            page.text(188, y + 16, fdate(due), 9, align="right")
        page.rule(120, y + 19, 190)
        y += 30
        page.text(20, y, f"{pick('bill')}: {customer}", 9)
        y += 12
    else:  # title left, vendor block right, meta as a two-column list
        page.text(20, y + 2, pick("title"), 22, bold=True)
        page.text(190, y, vendor, 11, bold=True, align="right")
        for i, line in enumerate(_address(rng, lang)):
            page.text(190, y + 5 + 5 * i, line, 8, align="right")
        y += 25
        rows = [(pick("number"), number), (pick("date"), fdate(issued))]
        if show_due:
            rows.append((pick("due"), fdate(due)))
        for label, value in rows:
            page.text(20, y, label, 9, bold=True)
            page.text(60, y, value, 9)
            y += 5.5
        y += 6
        page.text(20, y, pick("bill"), 9, bold=True)
        page.text(60, y, customer, 9)
        y += 8
        if show_due and rng.random() < 0.5:
            page.text(20, y + 4, f"{money(total)} — {pick('due')} {fdate(due)}", 13, bold=True)
            y += 12
    # items
    cols = L["cols"]
    page.rule(20, y - 4, 190)
    page.text(20, y, cols[0], 9, bold=True)
    page.text(120, y, cols[1], 9, bold=True, align="right")
    page.text(155, y, cols[2], 9, bold=True, align="right")
    page.text(190, y, cols[3], 9, bold=True, align="right")
    page.rule(20, y + 2, 190)
    y += 7
    for name, qty, price, amount in items:
        page.text(20, y, name, 9)
        page.text(120, y, str(qty), 9, align="right")
        page.text(155, y, money(price), 9, align="right")
        page.text(190, y, money(amount), 9, align="right")
        y += 5.5
    page.rule(110, y - 2, 190)
    y += 4
    for label, value, bold in (
        (pick("subtotal"), net, False),
        (pick("tax"), tax, False),
        (total_label, total, True),
    ):
        page.text(150, y, label, 10 if bold else 9, bold=bold, align="right")
        page.text(190, y, money(value), 10 if bold else 9, bold=bold, align="right")
        y += 6
    if paid:
        page.text(105, y + 12, L["paid"], 26, bold=True, align="center")
        y += 20
    y += 12
    page.text(20, y, L["pay"].format(d=days), 9)
    page.text(20, y + 5, L["thanks"], 9)
    bank = f"{L['bank']}: IBAN DE{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} · BIC {rng.choice(['COBADEFFXXX', 'INGBNL2A', 'BNPAFRPP', 'CAIXESBB'])}"
    page.text(20, 280, bank, 7)
    page.text(20, 285, vendor + " · " + ", ".join(_address(rng, lang)), 7)
    labels = {
        "documentType": "invoice",
        "fields": {
            "amount": f"{total:.2f}",
            "currency": currency,
            "invoiceNumber": number,
            "invoiceDate": issued.isoformat(),
            "dueDate": due.isoformat(),
            "vendor": vendor,
            "isPaid": paid,
        },
    }
    body = [
        vendor,
        pick("title"),
        f"{pick('number')}: {number}",
        f"{pick('date')}: {fdate(issued)}",
    ]
    if show_due:
        body.append(f"{pick('due')}: {fdate(due)}")
    body += [f"{pick('bill')}: {customer}", ""]
    body += [f"{n}\t{q}\t{money(p)}\t{money(a)}" for n, q, p, a in items]
    body += [
        "",
        f"{pick('subtotal')}\t{money(net)}",
        f"{pick('tax')}\t{money(tax)}",
        f"{total_label}\t{money(total)}",
        "",
        L["pay"].format(d=days),
        L["thanks"],
    ]
    if paid:
        body.insert(2, L["paid"])
    return [page], labels, body


# ---- receipts -----------------------------------------------------------------------------

RECEIPT_LABELS = {
    "en": dict(
        total=["TOTAL", "Total", "AMOUNT DUE"],
        sub="SUBTOTAL",
        tax="TAX",
        cash="CASH",
        card="VISA",
        change="CHANGE",
        thanks=["Thank you for shopping with us!", "Thanks for your visit"],
        head=["RECEIPT", "SALES RECEIPT", ""],
    ),
    "de": dict(
        total=["SUMME", "Summe EUR", "GESAMT", "ZU ZAHLEN"],
        sub="Zwischensumme",
        tax="MwSt",
        cash="BAR",
        card="EC-Karte",
        change="Rückgeld",
        thanks=["Vielen Dank für Ihren Einkauf!", "Danke für Ihren Besuch"],
        head=["KASSENBON", "Beleg", ""],
    ),
    "fr": dict(
        total=["TOTAL", "Total TTC", "A PAYER"],
        sub="Sous-total",
        tax="TVA",
        cash="ESPECES",
        card="CB",
        change="Rendu",
        thanks=["Merci de votre visite !", "Merci et à bientôt"],
        head=["TICKET DE CAISSE", "Reçu", ""],
    ),
    "nl": dict(
        total=["TOTAAL", "Te betalen", "Totaal"],
        sub="Subtotaal",
        tax="BTW",
        cash="CONTANT",
        card="PIN",
        change="Wisselgeld",
        thanks=["Bedankt voor uw bezoek!", "Tot ziens"],
        head=["KASSABON", "Bon", ""],
    ),
    "es": dict(
        total=["TOTAL", "Total a pagar", "TOTAL EUR"],
        sub="Subtotal",
        tax="IVA",
        cash="EFECTIVO",
        card="TARJETA",
        change="Cambio",
        thanks=["¡Gracias por su compra!", "Gracias por su visita"],
        head=["TICKET DE COMPRA", "Factura simplificada", ""],
    ),
}
SHOPS = {
    "en": ["Corner Market", "City Deli", "Green Grocer"],
    "de": ["Bäckerei Sonnenschein", "Markt am Eck", "Getränke Hoffmann"],
    "fr": ["Épicerie du Coin", "Boulangerie Martin", "Marché Central"],
    "nl": ["Bakkerij de Molen", "Buurtsuper Jansen", "Groenteboer Visser"],
    "es": ["Supermercado El Sol", "Panadería La Espiga", "Frutería López"],
}


def receipt(spec: DocumentSpec) -> tuple[list[Page], dict[str, Any], list[str]]:
    rng = random.Random(spec.seed)
    lang = spec.language
    R = RECEIPT_LABELS[lang]
    merchant = rng.choice(SHOPS[lang]) if rng.random() < 0.6 else _company(rng, lang)
    currency = "EUR" if lang != "en" else rng.choice(["USD", "GBP", "EUR"])
    when = date(2023, 1, 1) + timedelta(days=rng.randint(0, 1000))
    dstyle = _date_style(rng, lang, currency)
    items = [
        (rng.choice(GROCERIES[lang]), Decimal(rng.randint(49, 2999)) / 100)
        for _ in range(rng.randint(2, 8))
    ]
    total = sum((p for _, p in items), Decimal(0))
    symbol_style = spec.layout % 3
    money = lambda v: format_amount(v, lang, currency, symbol_style).replace("\u202f", " ")  # noqa: E731
    plain = lambda v: _number(v, lang)  # noqa: E731
    page = Page(width=80, height=60 + 6 * len(items) + 50)
    y = 10.0
    page.text(40, y, merchant, 11, bold=True, align="center")
    for line in _address(rng, lang):
        y += 4.5
        page.text(40, y, line, 7.5, align="center")
    head = rng.choice(R["head"])
    if head:
        y += 7
        page.text(40, y, head, 9, bold=True, align="center")
    y += 7
    clock = f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
    page.text(5, y, format_date(when, lang, dstyle), 8)
    page.text(75, y, clock, 8, align="right")
    y += 6
    for name, price in items:
        page.text(5, y, name, 8)
        page.text(75, y, plain(price), 8, align="right")
        y += 4.5
    page.rule(5, y - 2, 75)
    y += 3
    total_label = rng.choice(R["total"])
    page.text(5, y, total_label, 10, bold=True)
    page.text(75, y, money(total), 10, bold=True, align="right")
    y += 6
    if rng.random() < 0.5:
        given = (total / 10).to_integral_value(rounding="ROUND_CEILING") * 10
        page.text(5, y, R["cash"], 8)
        page.text(75, y, plain(given), 8, align="right")
        y += 4.5
        page.text(5, y, R["change"], 8)
        page.text(75, y, plain(given - total), 8, align="right")
    else:
        page.text(5, y, R["card"], 8)
        page.text(75, y, plain(total), 8, align="right")
    y += 5
    rate = TAX_RATE[lang] if lang != "en" else Decimal("0.20")
    tax = (total * rate / (1 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    page.text(5, y, f"{R['tax']} {int(rate * 100)}%", 7)
    page.text(75, y, plain(tax), 7, align="right")
    y += 8
    page.text(40, y, rng.choice(R["thanks"]), 7.5, align="center")
    page.height = y + 10
    labels = {
        "documentType": "receipt",
        "fields": {
            "total": f"{total:.2f}",
            "currency": currency,
            "date": when.isoformat(),
            "merchant": merchant,
        },
    }
    body = [merchant, *_address(rng, lang), head, f"{format_date(when, lang, dstyle)}  {clock}"]
    body += [f"{n}    {plain(p)}" for n, p in items]
    body += [f"{total_label}    {money(total)}", rng.choice(R["thanks"])]
    return [page], labels, body


# ---- contracts ----------------------------------------------------------------------------

CONTRACT_TEXT = {
    "en": dict(
        title=["SERVICE AGREEMENT", "Consulting Agreement", "Software License Agreement"],
        between='This Agreement is made between {a}, {aa} (hereinafter the "Client") and {b}, {ba} (hereinafter the "Provider").',
        effective=["This Agreement takes effect on {d}.", "Effective Date: {d}"],
        end=[
            "This Agreement expires on {d}.",
            "End date: {d}",
            "The Agreement shall remain in force until {d}.",
        ],
        term="The term of this Agreement is {n} months.",
        clauses=[
            "1. Services. The Provider shall perform the services described in Annex A.",
            "2. Fees. The Client shall pay the fees within 30 days of invoice.",
            "3. Confidentiality. Each party shall keep confidential information secret.",
            "4. Termination. Either party may terminate with three months' notice.",
            "5. Governing law. This Agreement is governed by the laws of England.",
        ],
        sign="Signature",
        party_labels=("Client", "Provider"),
    ),
    "de": dict(
        title=["DIENSTLEISTUNGSVERTRAG", "Beratungsvertrag", "Wartungsvertrag"],
        between="Dieser Vertrag wird geschlossen zwischen {a}, {aa} (nachfolgend „Auftraggeber“) und {b}, {ba} (nachfolgend „Auftragnehmer“).",
        effective=["Der Vertrag tritt am {d} in Kraft.", "Vertragsbeginn: {d}"],
        end=[
            "Der Vertrag endet am {d}.",
            "Vertragsende: {d}",
            "Der Vertrag ist befristet bis zum {d}.",
        ],
        term="Die Laufzeit des Vertrages beträgt {n} Monate.",
        clauses=[
            "§ 1 Vertragsgegenstand. Der Auftragnehmer erbringt die in Anlage 1 beschriebenen Leistungen.",
            "§ 2 Vergütung. Die Vergütung ist innerhalb von 30 Tagen nach Rechnungsstellung fällig.",
            "§ 3 Vertraulichkeit. Die Vertragsparteien verpflichten sich zur Geheimhaltung.",
            "§ 4 Kündigung. Die Kündigungsfrist beträgt drei Monate.",
            "§ 5 Gerichtsstand ist Berlin. Es gilt deutsches Recht.",
        ],
        sign="Unterschrift",
        party_labels=("Auftraggeber", "Auftragnehmer"),
    ),
    "fr": dict(
        title=[
            "CONTRAT DE PRESTATION DE SERVICES",
            "Contrat de maintenance",
            "Convention de conseil",
        ],
        between="Le présent contrat est conclu entre {a}, {aa} (ci-après « le Client ») et {b}, {ba} (ci-après « le Prestataire »).",
        effective=["Le contrat prend effet le {d}.", "Date d'effet : {d}"],
        end=[
            "Le contrat expire le {d}.",
            "Date de fin : {d}",
            "Le contrat reste en vigueur jusqu'au {d}.",
        ],
        term="La durée du contrat est de {n} mois.",
        clauses=[
            "Article 1 – Objet. Le Prestataire réalise les prestations décrites en annexe.",
            "Article 2 – Prix. Les factures sont payables à 30 jours.",
            "Article 3 – Confidentialité. Les parties s'engagent à la confidentialité.",
            "Article 4 – Résiliation. Chaque partie peut résilier avec un préavis de trois mois.",
            "Article 5 – Droit applicable. Le présent contrat est soumis au droit français.",
        ],
        sign="Signature",
        party_labels=("Le Client", "Le Prestataire"),
    ),
    "nl": dict(
        title=["DIENSTVERLENINGSOVEREENKOMST", "Adviesovereenkomst", "Onderhoudscontract"],
        between='Deze overeenkomst wordt gesloten tussen {a}, {aa} (hierna te noemen "Opdrachtgever") en {b}, {ba} (hierna te noemen "Opdrachtnemer").',
        effective=["Deze overeenkomst gaat in op {d}.", "Ingangsdatum: {d}"],
        end=[
            "Deze overeenkomst eindigt op {d}.",
            "Einddatum: {d}",
            "De overeenkomst loopt tot en met {d}.",
        ],
        term="De looptijd van deze overeenkomst is {n} maanden.",
        clauses=[
            "Artikel 1 Opdracht. Opdrachtnemer verricht de werkzaamheden uit bijlage 1.",
            "Artikel 2 Vergoeding. Facturen worden binnen 30 dagen betaald.",
            "Artikel 3 Geheimhouding. Partijen zijn tot geheimhouding verplicht.",
            "Artikel 4 Opzegging. De opzegtermijn bedraagt drie maanden.",
            "Artikel 5 Toepasselijk recht. Op deze overeenkomst is Nederlands recht van toepassing.",
        ],
        sign="Handtekening",
        party_labels=("Opdrachtgever", "Opdrachtnemer"),
    ),
    "es": dict(
        title=[
            "CONTRATO DE PRESTACIÓN DE SERVICIOS",
            "Contrato de consultoría",
            "Contrato de mantenimiento",
        ],
        between='El presente contrato se celebra entre {a}, {aa} (en adelante, el "Cliente") y {b}, {ba} (en adelante, el "Proveedor").',
        effective=["El contrato entra en vigor el {d}.", "Fecha de inicio: {d}"],
        end=[
            "El contrato vence el {d}.",
            "Fecha de finalización: {d}",
            "El contrato estará vigente hasta el {d}.",
        ],
        term="La duración del contrato es de {n} meses.",
        clauses=[
            "Cláusula 1. Objeto. El Proveedor prestará los servicios descritos en el Anexo I.",
            "Cláusula 2. Precio. Las facturas se pagarán en un plazo de 30 días.",
            "Cláusula 3. Confidencialidad. Las partes guardarán confidencialidad.",
            "Cláusula 4. Resolución. Cualquiera de las partes podrá resolver el contrato con un preaviso de tres meses.",
            "Cláusula 5. Legislación aplicable. El contrato se rige por la legislación española.",
        ],
        sign="Firma",
        party_labels=("Cliente", "Proveedor"),
    ),
}


def _wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines


def contract(spec: DocumentSpec) -> tuple[list[Page], dict[str, Any], list[str]]:
    rng = random.Random(spec.seed)
    lang = spec.language
    C = CONTRACT_TEXT[lang]
    a, b = _company(rng, lang), _company(rng, lang)
    while b == a:
        b = _company(rng, lang)
    start = date(2023, 1, 1) + timedelta(days=rng.randint(0, 900))
    start = start.replace(day=1) if rng.random() < 0.5 else start
    months = rng.choice([6, 12, 24, 36])
    end = _months_later(start, months) - timedelta(days=1)
    dstyle = _date_style(rng, lang, "GBP")
    fdate = lambda v: format_date(v, lang, dstyle)  # noqa: E731
    paragraphs = [rng.choice(C["title"])]
    layout = spec.layout % 3
    if layout == 2:
        la, lb = C["party_labels"]
        paragraphs += [
            f"{la}: {a}, {', '.join(_address(rng, lang))}",
            f"{lb}: {b}, {', '.join(_address(rng, lang))}",
        ]
    else:
        paragraphs.append(
            C["between"].format(
                a=a, aa=", ".join(_address(rng, lang)), b=b, ba=", ".join(_address(rng, lang))
            )
        )
    paragraphs.append(rng.choice(C["effective"]).format(d=fdate(start)))
    explicit_end = layout != 1
    if explicit_end:
        paragraphs.append(rng.choice(C["end"]).format(d=fdate(end)))
    else:
        paragraphs.append(C["term"].format(n=months))
    paragraphs += C["clauses"]
    paragraphs += [
        "",
        f"{C['sign']} ______________________      {C['sign']} ______________________",
    ]
    page = Page()
    y = 25.0
    page.text(105, y, paragraphs[0], 15, bold=True, align="center")
    y += 14
    for para in paragraphs[1:]:
        for line in _wrap(para, 88):
            page.text(20, y, line, 10)
            y += 5
        y += 3
    labels = {
        "documentType": "contract",
        "fields": {
            "parties": [a, b],
            "effectiveDate": start.isoformat(),
            "expirationDate": end.isoformat(),
        },
    }
    return [page], labels, paragraphs


def _months_later(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(start)


# ---- the other kinds ----------------------------------------------------------------------

PROSE = {
    "report": {
        "en": [
            "Quarterly Report Q{q} {y}",
            "Executive Summary",
            "Revenue grew by {p}% compared with the previous quarter, driven by new customers in the north region.",
            "Introduction",
            "This report presents the results of the analysis of sales and operations.",
            "Findings",
            "The analysis shows that growth was strongest in the services segment. Table 1 summarises the key figures.",
            "Conclusions",
            "We recommend investing further in customer support and automation.",
            "Recommendations",
            "Expand the sales team and review the pricing model.",
        ],
        "de": [
            "Quartalsbericht Q{q} {y}",
            "Zusammenfassung",
            "Der Umsatz stieg um {p}% gegenüber dem Vorquartal, getragen von Neukunden im Norden.",
            "Einleitung",
            "Dieser Bericht stellt die Ergebnisse der Analyse von Vertrieb und Betrieb vor.",
            "Ergebnisse",
            "Die Analyse zeigt, dass das Wachstum im Dienstleistungssegment am stärksten war. Tabelle 1 fasst die Kennzahlen zusammen.",
            "Fazit",
            "Wir empfehlen weitere Investitionen in Kundenservice und Automatisierung.",
            "Empfehlungen",
            "Vertriebsteam ausbauen und Preismodell überprüfen.",
        ],
        "fr": [
            "Rapport trimestriel T{q} {y}",
            "Synthèse",
            "Le chiffre d'affaires a progressé de {p} % par rapport au trimestre précédent.",
            "Introduction",
            "Ce rapport présente les résultats de l'analyse des ventes et des opérations.",
            "Résultats",
            "L'analyse montre que la croissance a été la plus forte dans les services. Le tableau 1 résume les chiffres clés.",
            "Conclusions",
            "Nous recommandons d'investir davantage dans le support client.",
            "Recommandations",
            "Renforcer l'équipe commerciale et revoir la tarification.",
        ],
        "nl": [
            "Kwartaalrapport Q{q} {y}",
            "Samenvatting",
            "De omzet steeg met {p}% ten opzichte van het vorige kwartaal.",
            "Inleiding",
            "Dit verslag presenteert de resultaten van de analyse van verkoop en operaties.",
            "Resultaten",
            "De analyse laat zien dat de groei het sterkst was in diensten. Tabel 1 vat de kerncijfers samen.",
            "Conclusies",
            "Wij adviseren verder te investeren in klantenservice.",
            "Aanbevelingen",
            "Het verkoopteam uitbreiden en de prijsstelling herzien.",
        ],
        "es": [
            "Informe trimestral T{q} {y}",
            "Resumen ejecutivo",
            "Los ingresos crecieron un {p}% respecto al trimestre anterior.",
            "Introducción",
            "Este informe presenta los resultados del análisis de ventas y operaciones.",
            "Resultados",
            "El análisis muestra que el crecimiento fue mayor en servicios. La tabla 1 resume las cifras clave.",
            "Conclusiones",
            "Recomendamos invertir más en atención al cliente.",
            "Recomendaciones",
            "Ampliar el equipo comercial y revisar los precios.",
        ],
    },
    "resume": {
        "en": [
            "{name}",
            "Curriculum Vitae",
            "Profile",
            "Experienced project manager with ten years in software delivery.",
            "Work Experience",
            "2019 – today  Project Manager, {company}",
            "2014 – 2019  Developer, Brightline Software",
            "Education",
            "MSc Computer Science, University of Leeds",
            "Skills",
            "Python, SQL, agile methods, stakeholder management",
            "Languages",
            "English (native), German (fluent)",
        ],
        "de": [
            "{name}",
            "Lebenslauf",
            "Profil",
            "Erfahrene Projektleiterin mit zehn Jahren in der Softwareentwicklung.",
            "Berufserfahrung",
            "2019 – heute  Projektleiterin, {company}",
            "2014 – 2019  Entwicklerin, Nordwind Software GmbH",
            "Ausbildung",
            "Master Informatik, Universität Köln",
            "Kenntnisse",
            "Python, SQL, agile Methoden",
            "Sprachen",
            "Deutsch (Muttersprache), Englisch (fließend)",
            "Geburtsdatum: 12.04.1988",
        ],
        "fr": [
            "{name}",
            "Curriculum Vitae",
            "Profil",
            "Cheffe de projet expérimentée, dix ans dans le logiciel.",
            "Expérience professionnelle",
            "2019 – aujourd'hui  Cheffe de projet, {company}",
            "2014 – 2019  Développeuse, Lumen Informatique",
            "Formation",
            "Master en informatique, Université de Lyon",
            "Compétences",
            "Python, SQL, méthodes agiles",
            "Langues",
            "Français (langue maternelle), anglais (courant)",
        ],
        "nl": [
            "{name}",
            "Curriculum Vitae",
            "Profiel",
            "Ervaren projectmanager met tien jaar ervaring in software.",
            "Werkervaring",
            "2019 – heden  Projectmanager, {company}",
            "2014 – 2019  Ontwikkelaar, Zuiderzee Software B.V.",
            "Opleiding",
            "Master Informatica, Universiteit Utrecht",
            "Vaardigheden",
            "Python, SQL, agile werken",
            "Talen",
            "Nederlands (moedertaal), Engels (vloeiend)",
        ],
        "es": [
            "{name}",
            "Curriculum Vitae",
            "Perfil",
            "Jefa de proyecto con diez años de experiencia en software.",
            "Experiencia profesional",
            "2019 – actualidad  Jefa de proyecto, {company}",
            "2014 – 2019  Desarrolladora, Ibérica Software S.L.",
            "Formación",
            "Máster en Informática, Universidad de Valencia",
            "Habilidades",
            "Python, SQL, metodologías ágiles",
            "Idiomas",
            "Español (nativo), inglés (fluido)",
        ],
    },
    "statement": {
        "en": [
            "{bank}",
            "Account Statement",
            "Account number: {iban}",
            "Statement period: {p0} – {p1}",
            "Opening balance {b0}",
            "Date  Description  Debit  Credit  Balance",
            "{tx}",
            "Closing balance {b1}",
        ],
        "de": [
            "{bank}",
            "Kontoauszug",
            "Kontonummer: {iban}",
            "Zeitraum: {p0} – {p1}",
            "Alter Saldo {b0}",
            "Datum  Buchungstext  Soll  Haben  Saldo",
            "{tx}",
            "Neuer Saldo {b1}",
        ],
        "fr": [
            "{bank}",
            "Relevé de compte",
            "Numéro de compte : {iban}",
            "Période du relevé : {p0} – {p1}",
            "Ancien solde {b0}",
            "Date  Libellé  Débit  Crédit  Solde",
            "{tx}",
            "Nouveau solde {b1}",
        ],
        "nl": [
            "{bank}",
            "Rekeningafschrift",
            "Rekeningnummer: {iban}",
            "Periode: {p0} – {p1}",
            "Beginsaldo {b0}",
            "Datum  Omschrijving  Af  Bij  Saldo",
            "{tx}",
            "Eindsaldo {b1}",
        ],
        "es": [
            "{bank}",
            "Extracto de cuenta",
            "Número de cuenta: {iban}",
            "Periodo del extracto: {p0} – {p1}",
            "Saldo inicial {b0}",
            "Fecha  Concepto  Cargo  Abono  Saldo",
            "{tx}",
            "Saldo final {b1}",
        ],
    },
    "presentation": {
        "en": [
            "Product Strategy {y}",
            "Agenda",
            "Market overview|Our roadmap|Next steps",
            "Market overview",
            "Three segments grow faster than the market|Mobile first",
            "Our roadmap",
            "Q1: new onboarding|Q2: integrations|Q3: analytics",
            "Thank you",
            "Questions?",
        ],
        "de": [
            "Produktstrategie {y}",
            "Agenda",
            "Marktüberblick|Unsere Roadmap|Nächste Schritte",
            "Marktüberblick",
            "Drei Segmente wachsen schneller als der Markt",
            "Unsere Roadmap",
            "Q1: neues Onboarding|Q2: Integrationen|Q3: Analysen",
            "Vielen Dank",
            "Fragen?",
        ],
        "fr": [
            "Stratégie produit {y}",
            "Ordre du jour",
            "Vue du marché|Notre feuille de route|Prochaines étapes",
            "Vue du marché",
            "Trois segments croissent plus vite que le marché",
            "Notre feuille de route",
            "T1 : nouvel accueil|T2 : intégrations|T3 : analyses",
            "Merci",
            "Des questions ?",
        ],
        "nl": [
            "Productstrategie {y}",
            "Agenda",
            "Marktoverzicht|Onze roadmap|Volgende stappen",
            "Marktoverzicht",
            "Drie segmenten groeien sneller dan de markt",
            "Onze roadmap",
            "Q1: nieuwe onboarding|Q2: integraties|Q3: analyses",
            "Bedankt",
            "Vragen?",
        ],
        "es": [
            "Estrategia de producto {y}",
            "Agenda",
            "Visión del mercado|Nuestra hoja de ruta|Próximos pasos",
            "Visión del mercado",
            "Tres segmentos crecen más rápido que el mercado",
            "Nuestra hoja de ruta",
            "T1: nueva incorporación|T2: integraciones|T3: analítica",
            "Gracias",
            "¿Preguntas?",
        ],
    },
    "other": {
        "en": [
            "Team lunch on Friday",
            "Hi everyone,",
            "we will meet at the Italian place near the station at noon.",
            "Please let me know by Wednesday whether you can join.",
            "See you there,",
            "{name}",
        ],
        "de": [
            "Einladung zum Sommerfest",
            "Liebe Kolleginnen und Kollegen,",
            "am Freitag feiern wir ab 17 Uhr im Innenhof.",
            "Bitte gebt bis Mittwoch Bescheid, ob ihr kommt.",
            "Viele Grüße",
            "{name}",
        ],
        "fr": [
            "Invitation à la fête d'été",
            "Chers collègues,",
            "nous nous retrouverons vendredi à midi dans le jardin.",
            "Merci de confirmer votre présence avant mercredi.",
            "À bientôt,",
            "{name}",
        ],
        "nl": [
            "Uitnodiging zomerborrel",
            "Beste collega's,",
            "vrijdag vieren we de zomer vanaf vijf uur in de tuin.",
            "Laat even weten of je komt.",
            "Groeten,",
            "{name}",
        ],
        "es": [
            "Comida de equipo el viernes",
            "Hola a todos:",
            "nos vemos a mediodía en el restaurante junto a la estación.",
            "Decidme antes del miércoles si venís.",
            "Un saludo,",
            "{name}",
        ],
    },
}
BANKS = [
    "Rheinland Bank",
    "Banque Lorraine",
    "Zuiderzee Bank",
    "Banco Ibérica",
    "Harbor Savings Bank",
]


def prose(spec: DocumentSpec) -> tuple[list[Page], dict[str, Any], list[str]]:
    rng = random.Random(spec.seed)
    lang = spec.language
    lines = list(PROSE[spec.kind][lang])
    values = dict(
        q=rng.randint(1, 4),
        y=rng.randint(2022, 2026),
        p=rng.randint(2, 19),
        name=rng.choice(PEOPLE),
        company=_company(rng, lang),
        bank=rng.choice(BANKS),
        iban=f"DE{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
    )
    if spec.kind == "statement":
        balance = Decimal(rng.randint(10000, 900000)) / 100
        start = date(2024, rng.randint(1, 12), 1)
        values.update(
            p0=format_date(start, lang, 1),
            p1=format_date(start + timedelta(days=29), lang, 1),
            b0=format_amount(balance, lang, "EUR", 0),
        )
        tx = []
        for i in range(rng.randint(5, 12)):
            amount = Decimal(rng.randint(-90000, 50000)) / 100
            balance += amount
            when = format_date(start + timedelta(days=2 * i), lang, 0)
            what = rng.choice(["SEPA transfer", "Card payment", "Direct debit", "Salary", "Rent"])
            debit = format_amount(-amount, lang, "EUR", 0) if amount < 0 else ""
            credit = format_amount(amount, lang, "EUR", 0) if amount >= 0 else ""
            tx.append(
                f"{when}  {what}  {debit}  {credit}  {format_amount(balance, lang, 'EUR', 0)}"
            )
        values.update(tx="\n".join(tx), b1=format_amount(balance, lang, "EUR", 0))
    text = [line.format(**values) for line in lines]
    text = [part for line in text for part in line.split("\n")]
    if spec.kind == "presentation":
        pages = []
        slides = [
            (text[0], []),
            (text[1], text[2].split("|")),
            (text[3], text[4].split("|")),
            (text[5], text[6].split("|")),
            (text[7], [text[8]]),
        ]
        for title, bullets in slides:
            page = Page(width=254, height=143)
            page.text(127, 40, title, 28, bold=True, align="center")
            for i, bullet in enumerate(bullets):
                page.text(40, 65 + 12 * i, f"• {bullet}", 18)
            pages.append(page)
        return pages, {"documentType": "presentation", "fields": {}}, text
    page = Page()
    y = 25.0
    for index, line in enumerate(text):
        heading = index == 0 or (spec.kind in ("report", "resume") and len(line) < 32)
        for part in _wrap(line, 90) if not heading else [line]:
            page.text(20, y, part, 15 if index == 0 else 11 if heading else 10, bold=heading)
            y += 8 if heading else 5
        y += 2
        if y > 280:
            break
    return [page], {"documentType": spec.kind, "fields": {}}, text


def photo(spec: DocumentSpec) -> bytes:
    """A picture without text: gradients and shapes, JPEG."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(spec.seed)
    width, height = rng.choice([(800, 600), (1024, 768), (640, 960)])
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top = [rng.randint(0, 255) for _ in range(3)]
    bottom = [rng.randint(0, 255) for _ in range(3)]
    for row in range(height):
        t = row / height
        draw.line(
            [(0, row), (width, row)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randint(3, 9)):
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(20, 200)
        draw.ellipse(
            [x - r, y - r, x + r, y + r], fill=tuple(rng.randint(0, 255) for _ in range(3))
        )
    image = image.filter(ImageFilter.GaussianBlur(3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


# ---- other containers ---------------------------------------------------------------------


def make_docx(paragraphs: list[str]) -> bytes:
    """A minimal valid DOCX (WordprocessingML) with one paragraph per line; tabs kept."""
    from xml.sax.saxutils import escape

    def para(text: str) -> str:
        runs = "<w:r><w:tab/></w:r>".join(
            f'<w:r><w:t xml:space="preserve">{escape(part)}</w:t></w:r>'
            for part in text.split("\t")
        )
        return f"<w:p>{runs}</w:p>"

    body = "".join(para(p) for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>"
        ),
        "word/document.xml": document,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def spreadsheet_rows(spec: DocumentSpec) -> list[list[Any]]:
    rng = random.Random(spec.seed)
    header = {
        "en": ["Month", "Region", "Units", "Revenue"],
        "de": ["Monat", "Region", "Stück", "Umsatz"],
        "fr": ["Mois", "Région", "Unités", "Chiffre"],
        "nl": ["Maand", "Regio", "Stuks", "Omzet"],
        "es": ["Mes", "Región", "Unidades", "Ingresos"],
    }[spec.language]
    rows: list[list[Any]] = [header]
    for month in range(1, 13):
        for region in ("North", "South", "East"):
            units = rng.randint(10, 500)
            rows.append([f"2025-{month:02d}", region, units, round(units * rng.uniform(9, 40), 2)])
    return rows


def make_xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_eml(subject: str, body: str, sender: str = "billing@example.com") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "accounts@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    message.set_content(body)
    return message.as_bytes()


def make_html(title: str, lines: list[str]) -> bytes:
    from html import escape

    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in line.split("\t")) + "</tr>"
        if "\t" in line
        else f"<p>{escape(line)}</p>"
        for line in lines
    )
    return (
        f"<!doctype html><html><head><title>{escape(title)}</title><style>p{{margin:0}}</style>"
        f"</head><body><table>{rows}</table></body></html>"
    ).encode()


# ---- entry points -------------------------------------------------------------------------

_BUILDERS = {"invoice": invoice, "receipt": receipt, "contract": contract}


def make_document(spec: DocumentSpec) -> GeneratedDocument:
    """Render `spec`; the labels are what a careful person would write down for it."""
    kind = spec.kind
    if kind == "image":
        data = photo(spec)
        return GeneratedDocument(
            spec,
            f"photo-{spec.seed}.jpg",
            "image/jpeg",
            data,
            {"documentType": "image", "fields": {}, **_meta(spec)},
        )
    if kind == "spreadsheet":
        rows = spreadsheet_rows(spec)
        if spec.fmt == "csv":
            data = "\n".join(";".join(str(c) for c in row) for row in rows).encode()
            content_type, name = "text/csv", f"sales-{spec.seed}.csv"
        else:
            data, content_type, name = (
                make_xlsx(rows),
                CONTENT_TYPES["xlsx"],
                f"sales-{spec.seed}.xlsx",
            )
        return GeneratedDocument(
            spec,
            name,
            content_type,
            data,
            {"documentType": "spreadsheet", "fields": {}, **_meta(spec)},
        )
    builder = _BUILDERS.get(kind, prose)
    pages, labels, lines = builder(spec)
    labels.update(_meta(spec))
    stem = f"{kind}-{spec.seed}"
    if spec.fmt == "pdf":
        data = render_pdf(pages, spec.font)
    elif spec.fmt in ("png", "jpeg"):
        data = render_image(
            pages[0],
            spec.font,
            photo=spec.fmt == "jpeg",
            seed=spec.seed,
            fmt="JPEG" if spec.fmt == "jpeg" else "PNG",
            dpi=200 if kind == "receipt" else 150,
        )
    elif spec.fmt == "docx":
        data = make_docx(lines)
    elif spec.fmt == "eml":
        data = make_eml(lines[0] if lines else kind, "\n".join(lines))
    elif spec.fmt == "html":
        data = make_html(lines[0] if lines else kind, lines)
    else:
        data = "\n".join(lines).encode()
    extension = {"jpeg": "jpg"}.get(spec.fmt, spec.fmt)
    return GeneratedDocument(spec, f"{stem}.{extension}", CONTENT_TYPES[spec.fmt], data, labels)


def _meta(spec: DocumentSpec) -> dict[str, Any]:
    return {
        "language": spec.language,
        "layout": spec.layout,
        "format": spec.fmt,
        "font": spec.font,
        "seed": spec.seed,
    }


def evaluation_specs(seed: int = 2025, per_kind: int = 20) -> list[DocumentSpec]:
    """The evaluation set's specs: every kind in every language, layouts, fonts and formats
    rotating; invoices and receipts as PDFs and as images (clean PNG scans and JPEG
    photos)."""
    rng = random.Random(seed)
    specs: list[DocumentSpec] = []
    formats = {
        "invoice": ["pdf", "pdf", "png", "jpeg", "docx", "pdf", "eml", "pdf", "png", "html"],
        "receipt": ["pdf", "png", "jpeg", "png", "txt"],
        "contract": ["pdf", "docx", "pdf", "png"],
        "report": ["pdf", "docx", "html"],
        "statement": ["pdf", "pdf", "png"],
        "resume": ["pdf", "docx"],
        "presentation": ["pdf"],
        "spreadsheet": ["xlsx", "csv"],
        "image": ["jpeg"],
        "other": ["pdf", "txt", "eml", "docx"],
    }
    counts = {"invoice": per_kind * 2, "receipt": per_kind * 2, "contract": per_kind}
    for kind in KINDS:
        for i in range(counts.get(kind, max(5, per_kind // 2))):
            # Languages in turn; format, layout and font drawn independently of them.
            fmt = formats[kind][(i + i // len(LANGUAGES)) % len(formats[kind])]
            specs.append(
                DocumentSpec(
                    kind=kind,
                    language=LANGUAGES[i % len(LANGUAGES)],
                    layout=rng.randrange(6 if kind == "invoice" else 4),
                    fmt=fmt,
                    font="mono" if fmt == "txt" else rng.choice(FONTS),
                    seed=rng.randrange(1, 1_000_000),
                )
            )
    return specs


def spec_dict(spec: DocumentSpec) -> dict[str, Any]:
    return asdict(spec)
