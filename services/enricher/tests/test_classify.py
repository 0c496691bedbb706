"""Document types in five languages, confidence that means something, key terms."""

from __future__ import annotations

import pytest

from attache_enricher.classify import DOCUMENT_TYPES, classify
from attache_enricher.keyterms import key_terms

SAMPLES = {
    "invoice": {
        "en": "ACME Ltd\nINVOICE\nInvoice No. 2024-17\nDue date 30/04/2024\nSubtotal 100.00\nVAT 20% 20.00\nTotal due £120.00",
        "de": "Muster GmbH\nRechnung\nRechnungsnummer 2024-17\nZahlbar bis 30.04.2024\nNettobetrag 100,00 €\nMwSt. 19% 19,00 €\nGesamtbetrag 119,00 €",
        "fr": "Dupont SARL\nFACTURE\nN° de facture 2024-17\nDate d'échéance 30/04/2024\nTotal HT 100,00 €\nTVA 20 % 20,00 €\nTotal TTC 120,00 €",
        "nl": "Jansen B.V.\nFactuur\nFactuurnummer 2024-17\nVervaldatum 30-04-2024\nSubtotaal € 100,00\nBTW 21% € 21,00\nTotaal te betalen € 121,00",
        "es": "García S.L.\nFACTURA\nNº de factura 2024-17\nFecha de vencimiento 30/04/2024\nBase imponible 100,00 €\nIVA 21% 21,00 €\nTotal a pagar 121,00 €",
    },
    "receipt": {
        "en": "CORNER MARKET\n12/03/2024 14:02\nMilk 1.29\nBread 2.49\nTOTAL 3.78\nCASH 5.00\nCHANGE 1.22\nThank you for shopping with us!",
        "de": "Bäckerei Sonne\n12.03.2024 08:15\nBrot 2,49\nKaffee 3,20\nSUMME EUR 5,69\nBAR 10,00\nRückgeld 4,31\nVielen Dank für Ihren Einkauf!",
        "fr": "Boulangerie Martin\n12/03/2024 08:15\nBaguette 1,10\nCafé 2,00\nTOTAL TTC 3,10\nCB 3,10\nMerci de votre visite !",
        "nl": "Bakkerij de Molen\n12-03-2024 08:15\nBrood 2,49\nKoffie 3,20\nTOTAAL 5,69\nPIN 5,69\nBedankt voor uw bezoek!",
        "es": "Panadería La Espiga\n12/03/2024 08:15\nPan 1,10\nCafé 1,50\nTOTAL 2,60\nEFECTIVO 5,00\nCambio 2,40\n¡Gracias por su compra!",
    },
    "contract": {
        "en": 'SERVICE AGREEMENT\nThis Agreement is made between Alpha Ltd (hereinafter the "Client") and Beta Inc (the "Provider").\n1. Term and termination. 2. Confidentiality. 3. Governing law.\nSignature',
        "de": "DIENSTLEISTUNGSVERTRAG\nzwischen Alpha GmbH (nachfolgend „Auftraggeber“) und Beta AG (nachfolgend „Auftragnehmer“)\n§ 1 Vertragsgegenstand § 2 Laufzeit und Kündigung § 3 Gerichtsstand\nUnterschrift",
        "fr": "CONTRAT DE PRESTATION\nentre Alpha SARL (ci-après « le Client ») et Beta SAS (ci-après « le Prestataire »)\nArticle 1 – Objet. Article 2 – Résiliation. Article 3 – Droit applicable.\nSignature",
        "nl": 'OVEREENKOMST\ntussen Alpha B.V. (hierna te noemen "Opdrachtgever") en Beta B.V. (hierna "Opdrachtnemer")\nArtikel 1 Opdracht. Artikel 2 Opzegging. Artikel 3 Toepasselijk recht.\nHandtekening',
        "es": 'CONTRATO DE SERVICIOS\nentre Alpha S.L. (en adelante, el "Cliente") y Beta S.A. (en adelante, el "Proveedor")\nCláusula 1. Objeto. Cláusula 2. Resolución. Cláusula 3. Legislación aplicable.\nFirma',
    },
    "statement": {
        "en": "Harbor Bank\nAccount Statement\nStatement period 01/03/2024 – 31/03/2024\nOpening balance 1,000.00\nCard payment 20.00\nClosing balance 980.00",
        "de": "Rheinland Bank\nKontoauszug\nAlter Saldo 1.000,00\nKartenzahlung 20,00\nNeuer Saldo 980,00",
        "fr": "Banque Lorraine\nRelevé de compte\nAncien solde 1 000,00\nPaiement carte 20,00\nNouveau solde 980,00",
        "nl": "Zuiderzee Bank\nRekeningafschrift\nBeginsaldo 1.000,00\nBetaling 20,00\nEindsaldo 980,00",
        "es": "Banco Ibérica\nExtracto de cuenta\nSaldo inicial 1.000,00\nPago con tarjeta 20,00\nSaldo final 980,00",
    },
    "resume": {
        "en": "Jane Doe\nCurriculum Vitae\nWork Experience\nEducation\nSkills\nLanguages",
        "de": "Anna Schmidt\nLebenslauf\nBerufserfahrung\nAusbildung\nKenntnisse\nSprachen",
        "fr": "Marie Dubois\nCurriculum Vitae\nExpérience professionnelle\nFormation\nCompétences\nLangues",
        "nl": "Jan Jansen\nCurriculum Vitae\nWerkervaring\nOpleiding\nVaardigheden\nTalen",
        "es": "Lucía García\nCurriculum Vitae\nExperiencia profesional\nFormación\nHabilidades\nIdiomas",
    },
    "report": {
        "en": "Annual Report 2024\nExecutive Summary\nIntroduction\nFindings\nConclusions\nRecommendations",
        "de": "Jahresbericht 2024\nZusammenfassung\nEinleitung\nErgebnisse\nFazit\nEmpfehlungen",
        "fr": "Rapport annuel 2024\nSynthèse\nIntroduction\nRésultats\nConclusions\nRecommandations",
        "nl": "Jaarverslag 2024\nSamenvatting\nInleiding\nResultaten\nConclusies\nAanbevelingen",
        "es": "Informe anual 2024\nResumen ejecutivo\nIntroducción\nResultados\nConclusiones\nRecomendaciones",
    },
}


@pytest.mark.parametrize(
    ("kind", "language"),
    [(kind, language) for kind, texts in SAMPLES.items() for language in texts],
)
def test_types_in_every_language(kind, language):
    found = classify(SAMPLES[kind][language], "application/pdf")
    assert found.document_type == kind, found.evidence
    assert 0.5 <= found.confidence <= 1.0
    assert set(found.probabilities) == set(DOCUMENT_TYPES)
    assert abs(sum(found.probabilities.values()) - 1) < 1e-6


def test_format_and_pixels_decide_when_words_do_not():
    assert classify("Month\tRegion\tUnits", "text/csv").document_type == "spreadsheet"
    presentation = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert classify("Roadmap\nNext steps", presentation).document_type == "presentation"
    assert classify("", "image/jpeg", ocr_words=0).document_type == "image"


def test_no_evidence_is_other_with_a_meaningful_confidence():
    vague = classify("Lunch on Friday at noon. See you there!", "text/plain")
    assert vague.document_type == "other" and 0.5 <= vague.confidence <= 1
    # One weak invoice-ish word is not enough to call it an invoice with confidence.
    weak = classify("Please see the attached table of amounts.", "application/pdf")
    assert weak.document_type == "other"


def test_key_terms_lead_with_what_is_known_and_skip_form_labels():
    text = (
        "Solar panel installation\nInvoice number 17\nUnit price\n"
        "Installation of solar panels on the roof, solar panel inspection and inverter setup."
    )
    terms = key_terms(text, leading=["invoice", "Helios Energy GmbH"])
    assert terms[:2] == ["invoice", "helios energy gmbh"]
    assert any("solar" in t for t in terms)
    assert not any(t in ("invoice number", "unit price") for t in terms)
    assert len(terms) <= 8 and len(set(terms)) == len(terms)
