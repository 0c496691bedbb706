"""Key terms: the few phrases that best describe a document.

RAKE (Rose et al., 2010) in five languages: candidate phrases are runs of content
words between function words, punctuation, numbers and line or cell breaks; a word
scores by how many other words it co-occurs with in phrases over how often it occurs,
a phrase by the sum of its words, boosted where it stands near the top (titles,
headings). Form labels every invoice carries ("invoice number", "unit price") are not
terms of one document. The list starts with what the other extractors know for sure:
the document type and the names of the vendor, merchant or parties.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from attache_enricher.classify import fold
from attache_enricher.language import LANGUAGES, STOPWORDS

MAX_TERMS = 8
_ALL_STOPWORDS = frozenset().union(*(STOPWORDS[lang] for lang in LANGUAGES))
# Words of forms and letterheads: present on every document of a kind, telling nothing.
BOILERPLATE = frozenset(
    fold(w)
    for w in """page pages seite pagina date datum fecha number nummer numero nr no total totaal
    gesamt summe subtotal zwischensumme amount betrag montant bedrag importe qty quantity menge
    quantité aantal cantidad price preis prix prijs precio unit einheit unité eenheid unidad
    description beschreibung désignation omschrijving descripción item items artikel article
    pos position tel phone telefon téléphone telefoon teléfono fax email mail www http https
    iban bic swift vat mwst ust tva btw iva tax steuer taxe impuesto net netto brutto gross
    due fällig échéance vervaldatum vencimiento per pro par por dear sehr geehrte madame
    monsieur geachte estimado regards grüße cordialement groet saludos best kind thank thanks
    danke merci bedankt gracias please bitte svp gelieve favor eur usd gbp chf ref reference
    referenz référence referentie referencia customer kunde client klant cliente invoice
    rechnung facture factuur factura receipt quittung kassenbon reçu kassabon recibo ticket
    rechnungsnummer rechnungsdatum fälligkeitsdatum gesamtbetrag nettobetrag bruttobetrag
    factuurnummer factuurdatum totaalbedrag subtotaal sous-total échéance bill invoice-no
    balance saldo solde""".split()
)
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*", re.UNICODE)
BREAK = re.compile(r"[\n\t.,;:!?()\[\]{}\"“”„«»|/\\]|\s{2,}|\d")


def candidate_phrases(text: str) -> list[tuple[list[str], int]]:
    """(lower-case words, line index) of each candidate phrase."""
    phrases = []
    for index, line in enumerate(text.splitlines()):
        for chunk in BREAK.split(line):
            current: list[str] = []
            for token in WORD.findall(chunk):
                folded = fold(token)
                if folded in _ALL_STOPWORDS or folded in BOILERPLATE or len(folded) < 3:
                    if current:
                        phrases.append((current, index))
                    current = []
                    continue
                current.append(token.lower())
                if len(current) == 3:
                    phrases.append((current, index))
                    current = []
            if current:
                phrases.append((current, index))
    return phrases


def key_terms(text: str, *, leading: list[str] | None = None, limit: int = MAX_TERMS) -> list[str]:
    text = text[:50_000]
    phrases = candidate_phrases(text)
    lines = max(1, text.count("\n") + 1)
    frequency: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for words, _ in phrases:
        for word in words:
            frequency[word] += 1
            degree[word] += len(words)
    word_score = {w: degree[w] / frequency[w] + 0.5 * (frequency[w] - 1) for w in frequency}
    phrase_score: dict[str, float] = defaultdict(float)
    for words, index in phrases:
        phrase = " ".join(words)
        boost = 1.6 if index < max(3, lines * 0.12) else 1.0
        score = sum(word_score[w] for w in words) * boost
        phrase_score[phrase] = max(phrase_score[phrase], score) + 0.3
    ranked = sorted(phrase_score.items(), key=lambda item: (-item[1], item[0]))
    chosen: list[str] = []
    for term in leading or []:
        term = " ".join(term.lower().split())
        if term and term not in chosen:
            chosen.append(term)
    for phrase, _score in ranked:
        if len(chosen) >= limit:
            break
        if any(phrase in c or c in phrase for c in chosen):
            continue
        chosen.append(phrase)
    return chosen[:limit]
