-- Measured at 1.1M rows (tests/bench/library.py).
--
-- 1. Lists with filters: the size-sort and document-type indexes carry the columns the
--    common filters and the visibility rule read, so a page's ids and a capped count are
--    found by index-only scans instead of one table visit per row examined. (Not the size
--    in the type index: a generic plan then sorts a whole type's rows by size rather than
--    walk the size index.)

DROP INDEX catalog.attachments_lib_size;
CREATE INDEX attachments_lib_size ON catalog.attachments (org_id, size_bytes DESC, id DESC)
    INCLUDE (document_type, file_category, file_extension, sort_date, ai_processed, expires_at)
    WHERE deleted_at IS NULL;

DROP INDEX catalog.attachments_lib_doctype_date;
CREATE INDEX attachments_lib_doctype_date
    ON catalog.attachments (org_id, document_type, sort_date DESC, id DESC)
    INCLUDE (file_category, file_extension, ai_processed, expires_at)
    WHERE deleted_at IS NULL;

-- 2. Phrase search. The search index can't check word order, and its posting lists of
--    common words ("your", "receipt", "report") are long: a phrase of common words costs a
--    table visit per row holding all its words. Phrase keys index each pair of adjacent
--    words per tenant and calendar month ("<org hash><month> <word> <word>"), so one month's
--    candidates for a phrase are a short posting list: library.py searches a phrase month
--    by month from the newest and stops as soon as the page (and the count, up to its cap)
--    is complete.

-- Months since year 0, in UTC (the months of the statistics rollups).
CREATE FUNCTION catalog.month_number(t timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (date_part('year', timezone('UTC', t)) * 12 + date_part('month', timezone('UTC', t)) - 1)::integer
$$;

-- Words ("receipt", "q3", "follow-up", "müller") and short numbers ("2025"); not long or
-- signed numbers, amounts, dates, e-mail addresses or paths, which are rarely part of a
-- phrase and would multiply the keys. A phrase without a pair of words is searched as
-- before.
CREATE FUNCTION catalog.phrase_word(lexeme text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lexeme !~ '^-|[0-9]{5}|[.,@/:]'
$$;

-- What a phrase key starts with: the tenant (a hash: shorter keys; rows of another tenant
-- it may collide with are removed by the org_id condition every query has) and the month.
CREATE FUNCTION catalog.phrase_key_prefix(org_id text, month integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(md5(org_id), 8) || month || ' '
$$;

-- Expensive next to a comparison (COST): the planner must use the index built on it
-- rather than compute it for every row.
CREATE FUNCTION catalog.phrase_keys(org_id text, sort_date timestamptz, document tsvector)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10000 AS $$
    WITH words AS (SELECT w.lexeme, p FROM unnest(document) w, unnest(w.positions) p
                   WHERE catalog.phrase_word(w.lexeme))
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT prefix || a.lexeme || ' ' || b.lexeme)),
                    ''::tsvector)
    FROM (SELECT catalog.phrase_key_prefix(org_id, catalog.month_number(sort_date)) AS prefix) k,
         words a JOIN words b ON b.p = a.p + 1
$$;

-- The adjacent indexed pairs of a query that is one phrase ('a' <-> 'b' <-> ...), else
-- NULL (any other query: terms, OR, negation, a phrase among terms). Every row matching
-- the phrase has these pairs among its phrase keys.
CREATE FUNCTION catalog.phrase_pairs(query tsquery) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN query::text ~ $re$^'([^']|'')*'( <-> '([^']|'')*')+$$re$ THEN (
        SELECT array_agg(w.lexeme || ' ' || w.next ORDER BY w.n)
        FROM (SELECT m[1] AS lexeme, lead(m[1]) OVER (ORDER BY n) AS next, n
              FROM regexp_matches(query::text, $re$'((?:[^']|'')*)'$re$, 'g') WITH ORDINALITY t(m, n)) w
        WHERE catalog.phrase_word(w.lexeme) AND catalog.phrase_word(w.next))
    END
$fn$;

-- Rows of the given months having every pair (the keys are words, digits and spaces:
-- quoting them needs no escaping).
CREATE FUNCTION catalog.phrase_query(org_id text, months integer[], pairs text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg('(' || (SELECT string_agg(quote_literal(catalog.phrase_key_prefix(org_id, m) || p),
                                                ' & ')
                              FROM unnest(pairs) p) || ')', ' | ')::tsquery
    FROM unnest(months) m
$$;

-- Without a pending list (fastupdate): a search probes this index once per month, and
-- every probe would read the whole list of not yet merged insertions.
CREATE INDEX attachments_lib_phrase ON catalog.attachments
    USING gin (catalog.phrase_keys(org_id, sort_date, search_vector)) WITH (fastupdate = off)
    WHERE deleted_at IS NULL;

ANALYZE catalog.attachments;
