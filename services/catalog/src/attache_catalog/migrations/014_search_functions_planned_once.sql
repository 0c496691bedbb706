-- The attachments' generated columns and phrase index call three SQL functions that
-- PostgreSQL (before 18) does not inline: search_document (array_to_string is only
-- stable), metadata_amount (a FROM clause) and phrase_keys (a WITH query). A SQL function
-- that isn't inlined has its body parsed, analysed and planned again by every statement
-- that calls it, so each insert of an attachment, and each update of one, planned all
-- three: a single-row insert took 1.85 ms, 1.1 ms once they are planned once per
-- connection (PL/pgSQL caches its plans) or inlined (metadata_amount without its FROM).
-- Same signatures, attributes and results (tests/test_search_functions.py compares them
-- with the bodies of migrations 007 and 011): the stored values and index entries hold.

CREATE OR REPLACE FUNCTION catalog.search_document(
    filename text, sender_name text, sender_email text, email_subject text,
    key_terms text[], extracted_metadata jsonb
) RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN to_tsvector('simple'::regconfig,
        regexp_replace(coalesce(filename, ''), '[^[:alnum:]]+', ' ', 'g') || ' ' ||
        coalesce(sender_name, '') || ' ' ||
        regexp_replace(coalesce(sender_email, ''), '[@.]', ' ', 'g') || ' ' ||
        coalesce(email_subject, '') || ' ' ||
        array_to_string(key_terms, ' ') || ' ' ||
        regexp_replace(coalesce(extracted_metadata::text, ''), '"[A-Za-z]+":|[{}",]', ' ', 'g'));
END
$$;

CREATE OR REPLACE FUNCTION catalog.metadata_amount(metadata jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN coalesce(metadata->>'amount', metadata->>'total')
                     ~ '^-?[0-9]{1,15}(\.[0-9]{1,6})?$'
                THEN coalesce(metadata->>'amount', metadata->>'total')::numeric END
$$;

CREATE OR REPLACE FUNCTION catalog.phrase_keys(org_id text, sort_date timestamptz, document tsvector)
RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 10000 AS $$
BEGIN
    RETURN (
        WITH words AS (SELECT w.lexeme, p FROM unnest(document) w, unnest(w.positions) p
                       WHERE catalog.phrase_word(w.lexeme))
        SELECT coalesce(array_to_tsvector(array_agg(DISTINCT prefix || a.lexeme || ' ' || b.lexeme)),
                        ''::tsvector)
        FROM (SELECT catalog.phrase_key_prefix(org_id, catalog.month_number(sort_date)) AS prefix) k,
             words a JOIN words b ON b.p = a.p + 1);
END
$$;
