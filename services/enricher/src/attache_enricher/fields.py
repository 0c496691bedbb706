"""Fields of invoices, receipts and contracts, by labels people write in five languages.

The method is the one a clerk uses on a document they have never seen: find the label
("Invoice date", "Rechnungsdatum", "Date de facture", "Factuurdatum", "Fecha de
factura"), read the value right of it or under it, and parse it by the conventions of
the document's language. Labels are ranked (a "Total due" beats a "Total", which beats
nothing); sub-totals, net amounts and tax lines are recognised and passed over. Where no
label is found, the fallbacks are heuristics that hold on most real documents (the
invoice's date is its first date; the vendor is the first company name at the top).

Amounts come out as Decimals (two places), dates as `datetime.date`, currencies as
ISO 4217 codes; `to_metadata` turns them into the JSON of `extractedMetadata`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from attache_enricher.layout import Cell, Layout, Line
from attache_enricher.normalise import (
    currencies_in,
    currency_code,
    find_amounts,
    find_dates,
    money_value,
    month_first_hint,
)


def fold_same_length(text: str) -> str:
    """Lower case without accents, one character for one (positions stay valid)."""
    out = []
    for char in text.lower():
        base = unicodedata.normalize("NFKD", char)[:1]
        out.append(base if base and base.isascii() and base.isalnum() else char)
    return "".join(out)


def _labels(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(patterns) + r")(?![\w])")


# ---- labels (matched on accent-folded lower-case text) ----------------------------------

INVOICE_NUMBER_LABELS: list[tuple[int, re.Pattern[str]]] = [
    (
        3,
        _labels(
            r"invoice\s*(?:no|nr|number|num|#|id|ref(?:erence)?)\.?",
            r"inv\.?\s*(?:no|#)\.?",
            r"rechnungs?\s*-?\s*(?:nummer|nr)\.?",
            r"rechnung\s*(?:nr|no|nummer)\.?",
            r"re\.?\s*-\s*nr\.?",
            r"(?:n[o°º2]|numero|num)\.?\s*(?:de\s+)?(?:la\s+)?facture",
            r"facture\s*(?:n[o°º2]|numero|num)\.?",
            r"factuur\s*-?\s*(?:nummer|nr|no)\.?",
            r"(?:n[o°º2]|numero|num)\.?\s*(?:de\s+)?(?:la\s+)?factura",
            r"factura\s*(?:n[o°º2]|numero|num)\.?",
            r"bill\s*(?:no|number|#)\.?",
        ),
    ),
    (
        2,
        _labels(
            r"document\s*(?:no|number|#)\.?",
            r"beleg\s*-?\s*(?:nummer|nr)\.?",
            r"belegnummer",
            r"numero\s+de\s+document",
            r"documentnummer",
            r"numero\s+de\s+documento",
        ),
    ),
    # The document's name itself followed by a number: "Invoice #0042", "Rechnung 2024-17".
    (1, _labels(r"invoice", r"rechnung", r"facture", r"factuur", r"factura", r"tax invoice")),
]
# A "number" label about something else than the invoice.
NOT_INVOICE_NUMBER = _labels(
    r"customer",
    r"client",
    r"kunden?",
    r"klant",
    r"cliente",
    r"order",
    r"bestell\w*",
    r"commande",
    r"bestel\w*",
    r"pedido",
    r"vat",
    r"tax",
    r"ust",
    r"tva",
    r"btw",
    r"iva",
    r"steuer\w*",
    r"account",
    r"konto\w*",
    r"compte",
    r"rekening",
    r"cuenta",
    r"phone",
    r"tel",
    r"fax",
    r"iban",
    r"po",
    r"purchase",
    r"delivery",
    r"liefer\w*",
    r"livraison",
    r"levering",
    r"entrega",
    r"contract",
    r"vertrag\w*",
    r"contrat",
    r"date",
    r"datum",
    r"fecha",
    r"page",
    r"seite",
    r"pagina",
)

INVOICE_DATE_LABELS = [
    (
        3,
        _labels(
            r"invoice\s*date",
            r"date\s+of\s+(?:issue|invoice)",
            r"issue\s*date",
            r"issued\s*(?:on)?",
            r"date\s+issued",
            r"billing\s*date",
            r"rechnungs\s*-?\s*datum",
            r"ausstellungsdatum",
            r"belegdatum",
            r"date\s+de\s+(?:la\s+)?facture",
            r"date\s+de\s+facturation",
            r"date\s+d'emission",
            r"factuur\s*-?\s*datum",
            r"fecha\s+de\s+(?:la\s+)?factura",
            r"fecha\s+de\s+(?:emision|expedicion)",
            r"fecha\s+factura",
        ),
    ),
    (1, _labels(r"date", r"datum", r"fecha", r"dated", r"le", r"den")),
]
DUE_DATE_LABELS = [
    (
        3,
        _labels(
            r"due\s*date",
            r"payment\s+due(?:\s+date)?",
            r"date\s+due",
            r"due\s+(?:by|on)",
            r"pay(?:able)?\s+by",
            r"payment\s+date",
            r"zahlbar\s+(?:bis|am)(?:\s+zum)?",
            r"zahlungsziel",
            r"falligkeit(?:sdatum)?",
            r"fallig\s+(?:am|bis)",
            r"zahlungstermin",
            r"date\s+d'echeance",
            r"echeance",
            r"a\s+payer\s+avant(?:\s+le)?",
            r"payable\s+(?:avant|le)",
            r"date\s+limite\s+de\s+paiement",
            r"vervaldatum",
            r"vervaldag",
            r"te\s+betalen\s+voor",
            r"uiterste\s+betaaldatum",
            r"fecha\s+de\s+vencimiento",
            r"vencimiento",
            r"fecha\s+limite\s+de\s+pago",
            r"pagar\s+antes\s+del?",
        ),
    ),
    # Payment instructions in prose: "überweisen Sie den Betrag bis zum 29.03.2024".
    (
        2,
        _labels(
            r"due", r"fallig", r"faellig", r"echeance", r"vence", r"bis\s+(?:spatestens\s+)?zum"
        ),
    ),
]
# Date labels that name another date than the invoice's.
# The date of another document the invoice refers to ("Date de facture associée",
# "Original invoice date" on a credit note), not of this one.
OTHER_DOCUMENT = re.compile(
    r"(?<![\w])(?:associee|d'origine|originale?|initiale|precedente|related|referenced|"
    r"ursprunglich\w*|bezugs?\w*|oorspronkelijke?|rectificada|de\s+origen)(?![\w])"
)
NOT_INVOICE_DATE = re.compile(
    r"due|fallig|zahlbar|echeance|verval|vencim|delivery|liefer|livraison|lever|entrega|order"
    r"|bestell|commande|bestel|pedido|service|leistung|prestation|period|zeitraum|periode"
    r"|periodo|birth|geburt|naissance|geboorte|nacimiento|start|end|expir|valid|gultig"
    r"|payment|paid|zahlung|paiement|betaling|pago|shipping|versand|expedition|envio"
)

# Totals: rank 3 is what is to be paid, rank 2 a total, rank 1 an amount.
TOTAL_LABELS = [
    (
        3,
        _labels(
            r"amount\s+due",
            r"balance\s+due",
            r"total\s+due",
            r"amount\s+payable",
            r"total\s+payable",
            r"total\s+to\s+pay",
            r"please\s+pay",
            r"pay\s+this\s+amount",
            r"grand\s+total",
            r"invoice\s+total",
            r"total\s+amount\s+due",
            r"total\s+(?:incl|including|inc)\.?(?:\s+(?:vat|tax|gst))?",
            r"total\s+\(incl\w*",
            r"zu\s+zahlen(?:der\s+betrag)?",
            r"zahlbetrag",
            r"rechnungsbetrag",
            r"endbetrag",
            r"gesamtbetrag",
            r"gesamtsumme",
            r"bruttobetrag",
            r"brutto",
            r"summe\s+brutto",
            r"gesamt\s+(?:brutto|inkl)",
            r"endsumme",
            r"rechnungssumme",
            r"net\s+a\s+payer",
            r"montant\s+(?:a\s+payer|du|ttc|total\s+ttc)",
            r"total\s+ttc",
            r"reste\s+a\s+payer",
            r"total\s+a\s+payer",
            r"somme\s+a\s+payer",
            r"te\s+betalen(?:\s+bedrag)?",
            r"totaal\s+te\s+betalen",
            r"totaalbedrag",
            r"totaal\s+incl\.?(?:\s+btw)?",
            r"te\s+voldoen",
            r"total\s+a\s+pagar",
            r"importe\s+a\s+pagar",
            r"importe\s+total",
            r"total\s+factura",
            r"total\s+(?:con\s+)?iva\s+incluido",
            r"total\s+con\s+iva",
        ),
    ),
    (
        2,
        _labels(
            r"total(?:\s+amount)?",
            r"totaal",
            r"gesamt",
            r"summe",
            r"montant\s+total",
            r"importe",
            r"total\s+eur",
            r"total\s+usd",
            r"amount",
            r"betrag",
            r"montant",
            r"bedrag",
        ),
    ),
]
# Partial sums and taxes, unless the label says the tax is included.
NOT_TOTAL = re.compile(
    r"sub\s*-?\s*total|zwischensumme|sous\s*-?\s*total|subtotaal|base\s+imponible|netto"
    r"|(?<!\w)net(?!\s+a\s+payer)(?!\w)|\bht\b|hors\s+tax|excl|exkl|ohne\s+mwst|sin\s+iva"
    r"|(?<!\w)(?:vat|tax|mwst|ust|tva|btw|iva|gst|steuer)(?!\w)|discount|rabatt|remise"
    r"|korting|descuento|shipping|versand|deposit|anzahlung|acompte|aanbetaling|anticipo"
    r"|(?<!\w)(?:paid|bezahlt|paye|payee|betaald|pagado|received|erhalten|recu|ontvangen"
    r"|recibido|items|artikel|articles|stuks|cambio|change|ruckgeld|rendu|wisselgeld|given"
    r"|gegeben|tendered|cash|bar|especes|contant|efectivo|card|karte|carte|kaart|tarjeta"
    r"|cb|pin|visa|savings|saved|ersparnis|economie|besparing|ahorro)(?!\w)"
)
INCLUDED = re.compile(r"incl|inkl|including|inclus|ttc|incluido|con\s+iva|brutto")
AMOUNT_DUE = re.compile(
    r"amount\s+due|balance\s+due|total\s+due|zu\s+zahlen|zahlbetrag|reste\s+a\s+payer"
    r"|net\s+a\s+payer|te\s+betalen|total\s+a\s+pagar|importe\s+a\s+pagar|outstanding"
    r"|offener\s+betrag|restbetrag|solde\s+du|openstaand"
)

VENDOR_LABELS = _labels(
    r"from",
    r"vendor",
    r"supplier",
    r"seller",
    r"issued\s+by",
    r"sold\s+by",
    r"billed\s+by",
    r"merchant",
    r"lieferant",
    r"verkaufer",
    r"rechnungssteller",
    r"absender",
    r"fournisseur",
    r"vendeur",
    r"emetteur",
    r"leverancier",
    r"verkoper",
    r"afzender",
    r"proveedor",
    r"vendedor",
    r"emisor",
    r"razon\s+social",
)
CUSTOMER_LABELS = re.compile(
    r"bill(?:ed)?\s+to|invoice\s+to|sold\s+to|ship(?:ped)?\s+to|deliver(?:ed|y)?\s+to"
    r"|customer|client|recipient|rechnungsempfanger|rechnungsadresse|lieferadresse|kunde"
    r"|empfanger|an:|facture\s+a|factur[ea]\s+a|adresse\s+de\s+(?:facturation|livraison)"
    r"|destinataire|factureren\s+aan|klant|afleveradres|facturar\s+a|cliente|destinatario"
    r"|datos\s+del\s+cliente"
)
LEGAL_FORM = re.compile(
    r"(?<![\w])(?:gmbh(?:\s*&\s*co\.?\s*kg)?|ag|kg|ohg|ug(?:\s*\(haftungsbeschrankt\))?|e\.\s?k\.|"
    r"e\.v\.|ltd\.?|limited|llc|l\.l\.c\.|inc\.?|incorporated|corp\.?|corporation|co\.|plc|llp|"
    r"s\.?a\.?s\.?|s\.?a\.?r\.?l\.?|s\.a\.|sa|s\.?l\.?u?\.?|s\.?l\.|b\.?v\.?|n\.?v\.?|v\.o\.f\.|"
    r"s\.?r\.?l\.?|s\.?p\.?a\.?|pty\.?\s+ltd\.?|gbr|sarl|sas|eurl|sprl|bvba|"
    r"sociedad\s+limitada|company)(?![\w])"
)
DOC_TITLES = re.compile(
    r"^(?:tax\s+)?(?:invoice|rechnung|facture|factuur|factura|receipt|quittung|kassenbon|recu|"
    r"kassabon|recibo|ticket|bon|credit\s+note|gutschrift|avoir|creditnota|nota\s+de\s+credito|"
    r"proforma|page|seite|pagina|original|copy|kopie|copie|duplicate|statement|contract|"
    r"agreement|vertrag|contrat|overeenkomst|contrato)\b"
)
PAID_MARK = re.compile(
    r"(?<![\w])(?:paid(?:\s+in\s+full)?|payment\s+received|bezahlt|beglichen|betrag\s+erhalten|"
    r"paye[e]?|acquitte[e]?|regle[e]?|betaald|voldaan|pagad[oa]|cobrad[oa]|liquidad[oa])(?![\w])"
)
UNPAID_MARK = re.compile(
    r"(?<![\w])(?:unpaid|not\s+paid|overdue|outstanding|unbezahlt|offen|ausstehend|"
    r"impaye[e]?|non\s+paye[e]?|en\s+attente\s+de\s+paiement|onbetaald|openstaand|"
    r"pendiente(?:\s+de\s+pago)?|no\s+pagad[oa]|por\s+pagar)(?![\w])"
)
NEGATED_PAID = re.compile(r"(?:to\s+be|not|un|amount|total|noch\s+nicht|non|a\s+payer|te)\s*$")
# "TVA acquittée sur les encaissements", "VAT paid": a tax regime or a tax line, not a stamp.
TAX_BEFORE_PAID = re.compile(r"(?:tva|taxe|vat|tax|mwst|ust|iva|btw)\s*$")

PAYMENT_DAYS = re.compile(
    r"(?:within|net|innerhalb\s+von|binnen|dans\s+les|sous|a|en\s+un\s+plazo\s+de|en|"
    r"payable\s+(?:in|within))\s+(\d{1,3})\s*(?:days|tagen|tage|jours|dagen|dias|d)(?![\w])"
    r"|(?<![\w])net\s*(\d{1,3})(?![\w])"
)

# Contracts.
EFFECTIVE_LABELS = _labels(
    r"effective\s+(?:date|as\s+of|from|on)",
    r"commencement\s+date",
    r"start\s+date",
    r"commenc(?:es|ing)\s+on",
    r"starts?\s+on",
    r"begins?\s+on",
    r"dated\s+as\s+of",
    r"made\s+(?:on|as\s+of)",
    r"entered\s+into\s+(?:on|as\s+of)",
    r"with\s+effect\s+from",
    r"gultig\s+ab",
    r"mit\s+wirkung\s+(?:zum|vom|ab)",
    r"beginnt\s+am",
    r"vertragsbeginn",
    r"in\s+kraft\s+(?:ab|am|zum)",
    r"wirksam\s+ab",
    r"ab\s+dem",
    r"beginn",
    r"date\s+d'effet",
    r"prend\s+effet\s+(?:le|a\s+compter\s+du)",
    r"a\s+compter\s+du",
    r"entre(?:ra)?\s+en\s+vigueur\s+le",
    r"date\s+de\s+debut",
    r"debut\s+du\s+contrat",
    r"ingangsdatum",
    r"met\s+ingang\s+van",
    r"gaat\s+in\s+op",
    r"treedt\s+in\s+werking\s+op",
    r"begindatum",
    r"aanvangsdatum",
    r"fecha\s+de\s+(?:entrada\s+en\s+vigor|inicio)",
    r"a\s+partir\s+del?",
    r"entra(?:ra)?\s+en\s+vigor\s+el",
    r"con\s+efecto\s+(?:desde|a\s+partir\s+del?)",
    r"fecha\s+de\s+efecto",
)
EXPIRY_LABELS = _labels(
    r"expiration\s+date",
    r"expiry\s+date",
    r"expir(?:es|ing)\s+on",
    r"end\s+date",
    r"terminat(?:es|ion\s+date)(?:\s+on)?",
    r"ends?\s+on",
    r"valid\s+(?:until|through|thru)",
    r"until",
    r"through",
    r"endet\s+am",
    r"lauft\s+bis(?:\s+zum)?",
    r"bis\s+zum",
    r"vertragsende",
    r"gultig\s+bis",
    r"befristet\s+bis",
    r"ablauf(?:datum)?",
    r"expire\s+le",
    r"date\s+d'expiration",
    r"jusqu'au",
    r"prend\s+fin\s+le",
    r"date\s+de\s+fin",
    r"fin\s+du\s+contrat",
    r"einddatum",
    r"eindigt\s+op",
    r"loopt\s+tot(?:\s+en\s+met)?",
    r"tot\s+en\s+met",
    r"geldig\s+tot",
    r"afloopdatum",
    r"fecha\s+de\s+(?:vencimiento|finalizacion|expiracion|terminacion|fin)",
    r"vence\s+el",
    r"hasta\s+el",
    r"finaliza\s+el",
    r"termina\s+el",
    r"expira\s+el",
)
TERM_RE = re.compile(
    r"(?:term|period|duration|laufzeit|dauer|zeitraum|duree|periode|looptijd|termijn|duracion|"
    r"plazo|periodo)\b[^.\n]{0,40}?\b(\d{1,3}|one|two|three|five|ein(?:em|en)?|zwei|drei|un|une|"
    r"deux|trois|een|twee|drie|uno|una|dos|tres)\s*\(?\d*\)?\s*(months?|years?|monate[n]?|"
    r"jahre[n]?|jahr|mois|ans?|annees?|maanden|maand|jaar|jaren|meses|mes|anos?)"
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "five": 5,
    "ein": 1,
    "einem": 1,
    "einen": 1,
    "zwei": 2,
    "drei": 3,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "een": 1,
    "twee": 2,
    "drie": 3,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
}
BETWEEN_RE = re.compile(r"(?<![\w])(?:by\s+and\s+between|between|zwischen|entre|tussen)(?![\w])")
PARTY_LABELS = _labels(
    r"party\s*(?:a|b|1|2|one|two)",
    r"client",
    r"customer",
    r"supplier",
    r"contractor",
    r"service\s+provider",
    r"provider",
    r"licensor",
    r"licensee",
    r"landlord",
    r"tenant",
    r"employer",
    r"employee",
    r"lessor",
    r"lessee",
    r"buyer",
    r"seller",
    r"auftraggeber",
    r"auftragnehmer",
    r"vermieter",
    r"mieter",
    r"arbeitgeber",
    r"arbeitnehmer",
    r"kaufer",
    r"verkaufer",
    r"le\s+prestataire",
    r"prestataire",
    r"le\s+client",
    r"bailleur",
    r"locataire",
    r"employeur",
    r"opdrachtgever",
    r"opdrachtnemer",
    r"verhuurder",
    r"huurder",
    r"werkgever",
    r"werknemer",
    r"arrendador",
    r"arrendatario",
    r"prestador",
    r"cliente",
    r"empleador",
    r"trabajador",
    r"contratante",
    r"contratista",
)
PARTY_END = re.compile(
    r"\(|,|;|\bhereinafter\b|\bnachfolgend\b|\bim\s+folgenden\b|\bci-apres\b|\bhierna\b|"
    r"\ben\s+adelante\b|\bvertreten\b|\brepresented\b|\brepresentee\b|\bvertegenwoordigd\b|"
    r"\brepresentad[ao]\b|\bwith\s+(?:its|registered)\b|\bmit\s+sitz\b|\bdont\s+le\s+siege\b|"
    r"\bgevestigd\b|\bcon\s+domicilio\b|\bresiding\b|\bwohnhaft\b|\bdomicilie\b|\b\d"
)


# ---- the document as the extractors see it ---------------------------------------------


@dataclass
class Doc:
    lines: list[Line]
    text: str
    language: str | None
    folded: list[list[str]] = field(default_factory=list)
    month_first: bool = False
    currencies: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, layout: Layout, language: str | None) -> Doc:
        lines = [line for line in layout.lines if line.cells]
        text = "\n".join(line.text for line in lines)
        doc = cls(lines, text, language)
        doc.folded = [[fold_same_length(c.text) for c in line.cells] for line in lines]
        doc.currencies = Counter(currencies_in(text))
        top_currency = doc.currencies.most_common(1)[0][0] if doc.currencies else None
        doc.month_first = month_first_hint(text, language, top_currency)
        return doc

    def dates(self, text: str) -> list[date]:
        return [d.value for d in find_dates(text, month_first=self.month_first)]


@dataclass
class Found:
    value: Any
    rank: int
    line: int
    where: str  # "same" (the label's cell or row) or "below"
    cell_text: str = ""
    money: Any = None


def _overlaps(a: Cell, b: Cell) -> bool:
    slack = 0.02
    return a.x0 - slack <= b.x1 and b.x0 - slack <= a.x1


def _cells_after(doc: Doc, li: int, ci: int, end: int) -> list[str]:
    """What follows a label: the rest of its cell, then the next two cells of its row."""
    cell = doc.lines[li].cells[ci].text
    parts = [cell[end:]]
    parts.extend(c.text for c in doc.lines[li].cells[ci + 1 : ci + 3])
    return parts


def _cells_below(doc: Doc, li: int, ci: int, depth: int = 2) -> list[str]:
    """Cells under a label: in the next rows, overlapping it horizontally."""
    label = doc.lines[li].cells[ci]
    found = []
    for lj in range(li + 1, min(len(doc.lines), li + 1 + depth)):
        line = doc.lines[lj]
        if line.page != doc.lines[li].page:
            break
        below = [c for c in line.cells if _overlaps(label, c)]
        if below:
            found.append(below[0].text)
        if len(found) >= depth:
            break
    return found


def find_labelled(
    doc: Doc,
    labels: list[tuple[int, re.Pattern[str]]],
    parse,
    *,
    exclude: re.Pattern[str] | None = None,
    below: bool = True,
    below_min_rank: int = 2,
) -> list[Found]:
    found: list[Found] = []
    for li, cells in enumerate(doc.folded):
        for ci, folded in enumerate(cells):
            for rank, pattern in labels:
                match = pattern.search(folded)
                if match is None:
                    continue
                if rank == 1 and folded[: match.start()].strip(" #*-:"):
                    continue  # a weak label counts only where a cell starts with it
                if exclude is not None and exclude.search(folded[: match.end() + 25]):
                    break
                cell_text = doc.lines[li].cells[ci].text
                for part in _cells_after(doc, li, ci, match.end()):
                    value = parse(part)
                    if value is not None:
                        found.append(Found(value, rank, li, "same", cell_text))
                        break
                else:
                    if below and rank >= below_min_rank:
                        for part in _cells_below(doc, li, ci):
                            value = parse(part)
                            if value is not None:
                                found.append(Found(value, rank, li, "below", cell_text))
                                break
                break  # the best-ranked label of this cell decides
    return found


# ---- value parsers ----------------------------------------------------------------------

ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/._#]*")
DIGIT_GROUPS = re.compile(r"(?: \d{2,6})+\s*")


def parse_identifier(text: str) -> str | None:
    text = text.strip()
    text = re.sub(r"^[\s:.#°º*\-–—]+", "", text)
    text = re.sub(
        r"^(?:no|nr|n[o°º]|number|nummer|numero|num)\b\.?\s*[:#]?\s*", "", text, flags=re.IGNORECASE
    )
    text = text.lstrip(":#. ")
    match = ID_TOKEN.match(text)
    if not match:
        return None
    token = match.group(0).rstrip(".,;:/-_")
    # "INV 2024-001": a short alphabetic prefix written apart from its number.
    rest = text[match.end() :]
    if token.isalpha() and len(token) <= 4 and token.isupper():
        more = ID_TOKEN.match(rest.lstrip())
        if more and any(c.isdigit() for c in more.group(0)) and rest[:1] == " ":
            token = f"{token} {more.group(0).rstrip('.,;:/-_')}"
    # "4711 0815 42": digit groups that fill the rest of the cell are one number
    # (utilities and banks print long numbers grouped for reading).
    elif token.isdigit() and DIGIT_GROUPS.fullmatch(rest):
        token = " ".join([token, *rest.split()])
    if not any(c.isdigit() for c in token) or len(token) < 2 or len(token) > 40:
        return None
    if _is_date_only(token):
        return None
    # An amount ("1.234,56", "21.957,72") is a value, not a number of a document.
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})*[.,]\d{2}", token) or re.match(
        r"\d{1,3}(?:[.,\u00a0\u202f' ]\d{3})*[.,]\d{2}(?!\d)", text
    ):
        return None
    return token


def _is_date_only(token: str) -> bool:
    dates = find_dates(token)
    return bool(dates) and dates[0].start == 0 and dates[0].end >= len(token) - 1


def _amount_parser(doc: Doc):
    def parse(text: str):
        candidates = [
            m
            for m in find_amounts(text)
            if not text[m.end : m.end + 2].strip().startswith("%")
            and not _inside_date(text, m.start, m.end)
        ]
        if not candidates:
            return None
        decimals = [m for m in candidates if m.has_decimals or m.currency]
        if decimals:
            return decimals[-1]
        # Whole numbers only with a currency somewhere in the cell ("EUR 1 250").
        if currencies_in(text):
            return candidates[-1]
        return None

    return parse


def _inside_date(text: str, start: int, end: int) -> bool:
    return any(d.start <= start and end <= d.end for d in find_dates(text))


def _date_parser(doc: Doc):
    def parse(text: str):
        dates = doc.dates(text)
        return dates[0] if dates else None

    return parse


# ---- invoices ---------------------------------------------------------------------------


@dataclass
class InvoiceFields:
    amount: Decimal | None = None
    currency: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    vendor: str | None = None
    is_paid: bool | None = None
    payment_status: str | None = None


def total_amount(doc: Doc, labels=TOTAL_LABELS) -> tuple[Any, str | None, bool]:
    """(the total as Money, its currency, whether an amount due of zero says it's paid)."""
    parse = _amount_parser(doc)
    candidates: list[Found] = []
    for li, cells in enumerate(doc.folded):
        for ci, folded in enumerate(cells):
            for rank, pattern in labels:
                match = pattern.search(folded)
                if match is None:
                    continue
                label_text = folded[: match.end() + 20]
                if NOT_TOTAL.search(label_text) and not INCLUDED.search(label_text):
                    break
                for part in _cells_after(doc, li, ci, match.end()):
                    money = parse(part)
                    if money is not None:
                        candidates.append(
                            Found(money.value, rank, li, "same", doc.lines[li].text, money)
                        )
                        break
                else:
                    for part in _cells_below(doc, li, ci, depth=1):
                        money = parse(part)
                        if money is not None:
                            candidates.append(
                                Found(money.value, rank - 1, li, "below", doc.lines[li].text, money)
                            )
                            break
                break
    paid_by_zero_due = False
    due = [c for c in candidates if AMOUNT_DUE.search(fold_same_length(c.cell_text))]
    if due and all(c.value == 0 for c in due):
        paid_by_zero_due = True
    usable = [c for c in candidates if c.value > 0]
    if not usable:
        money = _largest_amount(doc)
        return money, (money.currency if money else None), paid_by_zero_due
    best_rank = max(c.rank for c in usable)
    best = [c for c in usable if c.rank == best_rank]
    same = [c for c in best if c.where == "same"] or best
    chosen = max(same, key=lambda c: (c.value, c.line))
    currency = chosen.money.currency or _currency_near(doc, chosen.line)
    return chosen.money, currency, paid_by_zero_due


def _largest_amount(doc: Doc):
    """No total label at all: the largest amount written as money (decimals or currency)."""
    best = None
    for line in doc.lines:
        for money in find_amounts(line.text):
            if not (money.currency or money.has_decimals) or money.value <= 0:
                continue
            if _inside_date(line.text, money.start, money.end):
                continue
            if best is None or money.value > best.value:
                best = money
    return best


def _currency_near(doc: Doc, line: int) -> str | None:
    for li in (line, line - 1, line + 1):
        if 0 <= li < len(doc.lines):
            found = currencies_in(doc.lines[li].text)
            if found:
                return found[-1]
    return None


def document_currency(doc: Doc, near: str | None) -> str | None:
    if near:
        return near
    if doc.currencies:
        return doc.currencies.most_common(1)[0][0]
    if doc.language in {"de", "fr", "nl", "es"}:
        return "EUR"
    return None


def _clean_name(text: str) -> str | None:
    text = re.sub(r"^\W+|[\s,;:]+$", "", text.strip())
    text = re.sub(r"\s{2,}", " ", text)
    if len(text) < 2 or len(text) > 80 or not re.search(r"[^\W\d_]{2}", text):
        return None
    return text


def _cut_at_legal_form(text: str) -> str:
    folded = fold_same_length(text)
    match = LEGAL_FORM.search(folded)
    if match:
        return text[: match.end()].strip(" ,;")
    return text.split(",")[0].strip()


def _looks_like_address_or_contact(folded: str) -> bool:
    return bool(
        re.search(
            r"@|www\.|https?:|\+?\d[\d\s/().-]{6,}\d|(?<![\w])(?:tel|fax|phone|telefon|email|e-mail|"
            r"iban|bic|vat|ust|tva|btw|iva|steuer|kvk|siret|siren|hrb|nif|cif)(?![\w])"
            r"|\b\d{4,5}\b|\b(?:street|st\.|road|rd\.|avenue|ave|strasse|str\.|weg|platz|rue|"
            r"boulevard|straat|laan|plein|calle|avda|avenida|plaza|suite|floor)\b",
            folded,
        )
    )


def vendor_name(doc: Doc, *, top_share: float = 0.35, first_line_first: bool = False) -> str | None:
    # 1. Labelled: "From: ACME Ltd", "Lieferant: …".
    for li, cells in enumerate(doc.folded):
        for ci, folded in enumerate(cells):
            match = VENDOR_LABELS.match(folded)
            if match and (
                folded[match.end() :].strip()[:1] in (":", "") or ":" in folded[: match.end() + 2]
            ):
                rest = doc.lines[li].cells[ci].text[match.end() :].lstrip(" :")
                candidates = [rest] + [c.text for c in doc.lines[li].cells[ci + 1 : ci + 2]]
                candidates += _cells_below(doc, li, ci, depth=1)
                for candidate in candidates:
                    candidate = _display_name(candidate)
                    name = _clean_name(_cut_at_legal_form(candidate)) if candidate else None
                    if name and not VENDOR_LABELS.fullmatch(fold_same_length(name)):
                        return name
    customer_lines = _customer_block(doc)
    first_page = [li for li, line in enumerate(doc.lines) if line.page == doc.lines[0].page]
    top = [li for li in first_page if doc.lines[li].y <= top_share] or first_page[:12]
    if first_line_first:
        name = _first_name_line(doc, top, customer_lines)
        if name:
            return name
    # 2. A company name (legal form) at the top, outside the customer's address block.
    for li in top:
        if li in customer_lines:
            continue
        for ci, folded in enumerate(doc.folded[li]):
            if LEGAL_FORM.search(folded) and not CUSTOMER_LABELS.search(folded):
                name = _clean_name(_cut_at_legal_form(doc.lines[li].cells[ci].text))
                if name and not DOC_TITLES.match(fold_same_length(name)):
                    return name
    # 3. The first line at the top that is a name: not a title, label, date, amount or address.
    name = _first_name_line(doc, top, customer_lines)
    if name:
        return name
    # 4. A company name in the footer (legal notices name the issuer).
    for li in range(len(doc.lines) - 1, max(-1, len(doc.lines) - 15), -1):
        if li in customer_lines:
            continue
        for ci, folded in enumerate(doc.folded[li]):
            if LEGAL_FORM.search(folded):
                name = _clean_name(_cut_at_legal_form(doc.lines[li].cells[ci].text))
                if name:
                    return name
    return None


def _first_name_line(doc: Doc, top: list[int], skip: set[int]) -> str | None:
    for li in top[:8]:
        if li in skip:
            continue
        for ci, folded in enumerate(doc.folded[li][:2]):
            if (
                DOC_TITLES.match(folded)
                or ":" in folded
                or CUSTOMER_LABELS.search(folded)
                or _looks_like_address_or_contact(folded)
                or doc.dates(folded)
                or re.search(r"\d{2,}", folded)
            ):
                continue
            name = _clean_name(doc.lines[li].cells[ci].text)
            if name and len(name.split()) <= 6:
                return name
    return None


def _display_name(text: str) -> str:
    """'ACME Billing <billing@acme.com>' → 'ACME Billing'; a bare address → ''."""
    if "@" not in text:
        return text
    named = re.match(r"\s*\"?([^\"<@]+?)\"?\s*<[^>]*@[^>]*>", text)
    return named.group(1).strip() if named else ""


def _customer_block(doc: Doc) -> set[int]:
    """Lines of the addressee's block ("Bill to:" and the few lines under it)."""
    block: set[int] = set()
    for li, cells in enumerate(doc.folded):
        for ci, folded in enumerate(cells):
            if CUSTOMER_LABELS.search(folded):
                label = doc.lines[li].cells[ci]
                block.add(li)
                for lj in range(li + 1, min(len(doc.lines), li + 5)):
                    if any(_overlaps(label, c) for c in doc.lines[lj].cells):
                        block.add(lj)
    return block


def payment_state(doc: Doc, paid_by_zero_due: bool) -> tuple[bool, str]:
    for cells in doc.folded:
        line = " ".join(cells)
        for match in PAID_MARK.finditer(line):
            before = line[max(0, match.start() - 12) : match.start()]
            after = line[match.end() : match.end() + 12]
            if (
                NEGATED_PAID.search(before)
                or TAX_BEFORE_PAID.search(before)
                # "Payee name", "Payee account": the English noun, not the French "payée".
                or re.match(r"\s*(?:by|on|via|amount|:|name|account|iban|id\b|ref)", after)
            ):
                continue
            return True, "paid"
    if paid_by_zero_due:
        return True, "paid"
    for cells in doc.folded:
        if UNPAID_MARK.search(" ".join(cells)):
            return False, "unpaid"
    return False, "unpaid"


def invoice_fields(doc: Doc) -> InvoiceFields:
    out = InvoiceFields()
    numbers = find_labelled(
        doc, INVOICE_NUMBER_LABELS, parse_identifier, exclude=NOT_INVOICE_NUMBER, below_min_rank=2
    )
    if numbers:
        best = max(n.rank for n in numbers)
        out.invoice_number = next(n.value for n in numbers if n.rank == best)
    parse_date = _date_parser(doc)
    due = find_labelled(doc, DUE_DATE_LABELS, parse_date)
    if due:
        out.due_date = due[0].value
    issued = [
        f
        for f in find_labelled(doc, INVOICE_DATE_LABELS, parse_date, below_min_rank=1)
        if not (f.rank == 1 and NOT_INVOICE_DATE.search(fold_same_length(f.cell_text)))
        and not OTHER_DOCUMENT.search(fold_same_length(f.cell_text))
    ]
    if issued:
        best = max(f.rank for f in issued)
        out.invoice_date = next(f.value for f in issued if f.rank == best)
    else:
        out.invoice_date = _first_plain_date(doc, exclude={out.due_date})
    if out.due_date is None and out.invoice_date is not None:
        days = _payment_days(doc)
        if days is not None:
            out.due_date = out.invoice_date + timedelta(days=days)
    if out.due_date and out.invoice_date and out.due_date < out.invoice_date:
        out.due_date = None
    money, near, paid_by_zero_due = total_amount(doc)
    if money is not None:
        out.amount = abs(money.value).quantize(Decimal("0.01"))
    out.currency = document_currency(doc, near)
    out.vendor = vendor_name(doc)
    out.is_paid, out.payment_status = payment_state(doc, paid_by_zero_due)
    return out


def _first_plain_date(doc: Doc, exclude: set) -> date | None:
    for li, cells in enumerate(doc.folded):
        for ci, folded in enumerate(cells):
            if NOT_INVOICE_DATE.search(folded):
                continue
            for value in doc.dates(doc.lines[li].cells[ci].text):
                if value not in exclude:
                    return value
    return None


def _payment_days(doc: Doc) -> int | None:
    for cells in doc.folded:
        match = PAYMENT_DAYS.search(" ".join(cells))
        if match:
            days = int(match.group(1) or match.group(2))
            if 0 < days <= 180:
                return days
    return None


# ---- receipts ---------------------------------------------------------------------------

RECEIPT_TOTAL_LABELS = [
    (
        3,
        _labels(
            r"total(?:\s+eur|\s+usd|\s+gbp|\s+chf)?",
            r"grand\s+total",
            r"total\s+ttc",
            r"summe",
            r"gesamt(?:betrag|summe)?",
            r"zu\s+zahlen",
            r"endsumme",
            r"a\s+payer",
            r"net\s+a\s+payer",
            r"montant\s+(?:total|ttc)",
            r"totaal",
            r"te\s+betalen",
            r"total\s+a\s+pagar",
            r"importe\s+total",
            r"total\s+compra",
            r"amount\s+due",
            r"balance\s+due",
            r"total\s+due",
        ),
    ),
    (1, _labels(r"amount", r"betrag", r"montant", r"bedrag", r"importe", r"eur", r"usd")),
]


@dataclass
class ReceiptFields:
    total: Decimal | None = None
    currency: str | None = None
    date: date | None = None
    merchant: str | None = None


def receipt_fields(doc: Doc) -> ReceiptFields:
    out = ReceiptFields()
    money, near, _ = total_amount(doc, RECEIPT_TOTAL_LABELS)
    if money is not None:
        out.total = abs(money.value).quantize(Decimal("0.01"))
    out.currency = document_currency(doc, near)
    labelled = [
        f
        for f in find_labelled(doc, INVOICE_DATE_LABELS, _date_parser(doc), below_min_rank=1)
        if not NOT_INVOICE_DATE.search(fold_same_length(f.cell_text))
    ]
    out.date = labelled[0].value if labelled else _first_plain_date(doc, exclude=set())
    out.merchant = vendor_name(doc, top_share=0.25, first_line_first=True)
    return out


# ---- contracts --------------------------------------------------------------------------


@dataclass
class ContractFields:
    parties: list[str] = field(default_factory=list)
    effective_date: date | None = None
    expiration_date: date | None = None


def _party_name(text: str) -> str | None:
    folded = fold_same_length(text)
    cut = PARTY_END.search(folded)
    name = text[: cut.start()] if cut else text
    name = re.sub(
        r"^(?:the\s+company\s+|die\s+firma\s+|la\s+societe\s+|la\s+sociedad\s+|de\s+firma\s+|"
        r"mr\.?\s+|mrs\.?\s+|ms\.?\s+|herrn?\s+|frau\s+|m\.\s+|mme\s+|de\s+heer\s+|"
        r"mevrouw\s+|don\s+|dona\s+|d\.\s+|dna\.\s+)",
        "",
        name.strip(),
        flags=re.IGNORECASE,
    )
    name = name.strip(" :\"'“”„«»")
    name = _clean_name(name)
    if name is None or len(name.split()) > 8:
        return None
    if re.fullmatch(
        r"(?i)(the\s+)?(parties|undersigned|folgenden|les\s+parties|partijen|"
        r"las\s+partes|den|dem|der|die|le|la|les|de|het|el|los|las)",
        name,
    ):
        return None
    return name


CONJUNCTIONS = {
    "en": r"and",
    "de": r"und",
    "fr": r"et",
    "nl": r"en",
    "es": r"y|e",
}


def _between_parties(doc: Doc) -> list[str]:
    """'between X, … (the "Client") and Y, …' → [X, Y] (across lines, any language)."""
    head = "\n".join(line.text for line in doc.lines[:60])
    folded = fold_same_length(head)
    match = BETWEEN_RE.search(folded)
    if not match:
        return []
    words = {"and"} | set(CONJUNCTIONS.get(doc.language or "", "").split("|"))
    words.discard("")
    conjunction = re.compile(r"(?<![\w])(?:" + "|".join(sorted(words)) + r")(?![\w])")
    rest = head[match.end() : match.end() + 900]
    rest_folded = folded[match.end() : match.end() + 900]
    depth = 0  # conjunctions inside "(hereinafter …)" don't separate the parties
    split = None
    for index, char in enumerate(rest_folded):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif (
            depth == 0
            and conjunction.match(rest_folded, index)
            and (index == 0 or not rest_folded[index - 1].isalnum())
        ):
            first = _party_name(rest[:index].strip(" :\n").split("\n")[0])
            if first:
                split = (index, conjunction.match(rest_folded, index).end())  # type: ignore[union-attr]
                break
    if split is None:
        return []
    names = [
        _party_name(rest[: split[0]].strip(" :\n").split("\n")[0]),
        _party_name(rest[split[1] :].strip(" :\n").split("\n")[0]),
    ]
    return [n for n in names if n]


def _strip_label(text: str) -> str:
    folded = fold_same_length(text)
    label = PARTY_LABELS.match(folded) or VENDOR_LABELS.match(folded)
    if label and folded[label.end() :].lstrip().startswith(":"):
        return text[label.end() :].lstrip(" :")
    return text


def _add_party(parties: list[str], name: str | None) -> None:
    if not name:
        return
    key = fold_same_length(name)
    for existing in parties:
        other = fold_same_length(existing)
        if key in other or other in key:
            return
    parties.append(name)


def contract_parties(doc: Doc) -> list[str]:
    parties: list[str] = []
    for name in _between_parties(doc):
        _add_party(parties, name)
    if len(parties) < 2:
        # Labelled parties: "Auftraggeber: ACME GmbH", "Client: …".
        for li, cells in enumerate(doc.folded[:80]):
            for ci, folded in enumerate(cells):
                label = PARTY_LABELS.match(folded)
                if not label:
                    continue
                rest = doc.lines[li].cells[ci].text[label.end() :]
                if not rest.strip().startswith(":") and ci + 1 >= len(cells):
                    continue
                options = [rest.lstrip(" :")] + [
                    c.text for c in doc.lines[li].cells[ci + 1 : ci + 2]
                ]
                for option in options:
                    name = _party_name(option) if option.strip() else None
                    if name and not PARTY_LABELS.fullmatch(fold_same_length(name)):
                        _add_party(parties, name)
                        break
    if len(parties) < 2:
        for li, cells in enumerate(doc.folded[:40]):
            for ci, folded in enumerate(cells):
                if LEGAL_FORM.search(folded):
                    text = _strip_label(doc.lines[li].cells[ci].text)
                    name = _clean_name(_cut_at_legal_form(text))
                    if name and not DOC_TITLES.match(fold_same_length(name)):
                        _add_party(parties, name)
            if len(parties) >= 2:
                break
    return parties[:4]


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    day = min(
        start.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return date(year, month, day)


def contract_fields(doc: Doc) -> ContractFields:
    out = ContractFields(parties=contract_parties(doc))
    parse_date = _date_parser(doc)
    effective = find_labelled(doc, [(2, EFFECTIVE_LABELS)], parse_date)
    expiry = find_labelled(doc, [(2, EXPIRY_LABELS)], parse_date)
    # Prose runs over lines: also search the running text.
    flat = " ".join(line.text for line in doc.lines)
    flat_folded = fold_same_length(flat)
    if not effective:
        for match in EFFECTIVE_LABELS.finditer(flat_folded):
            dates = doc.dates(flat[match.end() : match.end() + 40])
            if dates:
                out.effective_date = dates[0]
                break
    else:
        out.effective_date = effective[0].value
    if not expiry:
        for match in EXPIRY_LABELS.finditer(flat_folded):
            dates = doc.dates(flat[match.end() : match.end() + 40])
            if dates and (out.effective_date is None or dates[0] > out.effective_date):
                out.expiration_date = dates[0]
                break
    else:
        later = [
            f.value for f in expiry if out.effective_date is None or f.value > out.effective_date
        ]
        out.expiration_date = later[0] if later else None
    if out.effective_date is None:
        # "This agreement is made on 1 March 2025": the first date of the contract.
        first = doc.dates("\n".join(line.text for line in doc.lines[:40]))
        out.effective_date = first[0] if first else None
    if out.expiration_date is None and out.effective_date is not None:
        term = TERM_RE.search(flat_folded)
        if term:
            raw, unit = term.group(1), term.group(2)
            count = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 0)
            in_months = unit.startswith(("month", "monat", "mois", "maand", "mes"))
            months = count if in_months else count * 12
            if 0 < months <= 600:
                out.expiration_date = _add_months(out.effective_date, months) - timedelta(days=1)
    return out


# ---- JSON for extractedMetadata ---------------------------------------------------------


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _money(value: Decimal | None) -> float | None:
    return money_value(value) if value is not None else None


def extract_fields(document_type: str, layout: Layout, language: str | None) -> dict | None:
    """`extractedMetadata` for the types that have fields, else None."""
    doc = Doc.of(layout, language)
    if not doc.lines:
        return None
    if document_type == "invoice":
        f = invoice_fields(doc)
        return {
            "type": "invoice",
            "amount": _money(f.amount),
            "currency": f.currency,
            "invoiceNumber": f.invoice_number,
            "invoiceDate": _iso(f.invoice_date),
            "dueDate": _iso(f.due_date),
            "vendor": f.vendor,
            "isPaid": f.is_paid,
            "paymentStatus": f.payment_status,
        }
    if document_type == "receipt":
        r = receipt_fields(doc)
        return {
            "type": "receipt",
            "total": _money(r.total),
            "currency": r.currency,
            "date": _iso(r.date),
            "merchant": r.merchant,
        }
    if document_type == "contract":
        c = contract_fields(doc)
        return {
            "type": "contract",
            "parties": c.parties,
            "effectiveDate": _iso(c.effective_date),
            "expirationDate": _iso(c.expiration_date),
        }
    return None


__all__ = ["extract_fields", "currency_code"]
