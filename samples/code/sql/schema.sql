-- schema.sql: storage for a crawled-document catalogue.
--
-- Documents are fetched from sources, deduplicated by content hash and
-- annotated with quality scores. Written for PostgreSQL 14+.

BEGIN;

CREATE TABLE IF NOT EXISTS sources (
    source_id     SERIAL PRIMARY KEY,
    name          TEXT        NOT NULL UNIQUE,
    base_url      TEXT        NOT NULL,
    license       TEXT,
    crawl_delay_s INTEGER     NOT NULL DEFAULT 1 CHECK (crawl_delay_s >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per distinct document body; the hash is SHA-256 of the
-- normalised text, so re-crawls of identical pages map to the same row.
CREATE TABLE IF NOT EXISTS documents (
    doc_id        BIGSERIAL PRIMARY KEY,
    content_hash  BYTEA       NOT NULL UNIQUE CHECK (octet_length(content_hash) = 32),
    lang          TEXT        NOT NULL,          -- e.g. 'eng_Latn'
    char_count    INTEGER     NOT NULL CHECK (char_count >= 0),
    body          TEXT        NOT NULL,
    first_seen    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every URL at which a document was observed.
CREATE TABLE IF NOT EXISTS observations (
    observation_id BIGSERIAL PRIMARY KEY,
    doc_id         BIGINT      NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    source_id      INTEGER     NOT NULL REFERENCES sources(source_id),
    url            TEXT        NOT NULL,
    fetched_at     TIMESTAMPTZ NOT NULL,
    http_status    SMALLINT    NOT NULL,
    UNIQUE (url, fetched_at)
);

CREATE TABLE IF NOT EXISTS quality_scores (
    doc_id      BIGINT  NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    scorer      TEXT    NOT NULL,                -- e.g. 'lid', 'perplexity', 'repetition'
    score       REAL    NOT NULL,
    PRIMARY KEY (doc_id, scorer)
);

CREATE INDEX IF NOT EXISTS idx_documents_lang       ON documents (lang);
CREATE INDEX IF NOT EXISTS idx_observations_doc     ON observations (doc_id);
CREATE INDEX IF NOT EXISTS idx_observations_fetched ON observations (fetched_at DESC);

-- Documents seen at more than one URL, most widely copied first.
CREATE OR REPLACE VIEW duplicated_documents AS
SELECT d.doc_id,
       d.lang,
       count(DISTINCT o.url)  AS url_count,
       min(o.fetched_at)      AS first_fetch,
       max(o.fetched_at)      AS last_fetch
FROM documents d
JOIN observations o USING (doc_id)
GROUP BY d.doc_id, d.lang
HAVING count(DISTINCT o.url) > 1
ORDER BY url_count DESC;

-- Per-language totals restricted to documents that passed the LID filter.
CREATE OR REPLACE VIEW language_summary AS
SELECT d.lang,
       count(*)                 AS documents,
       sum(d.char_count)        AS characters,
       round(avg(q.score)::numeric, 3) AS mean_lid_score
FROM documents d
JOIN quality_scores q ON q.doc_id = d.doc_id AND q.scorer = 'lid'
WHERE q.score >= 0.65
GROUP BY d.lang
ORDER BY characters DESC;

COMMIT;
