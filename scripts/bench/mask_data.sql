-- The masking benchmark's database (scripts/bench/mask.sh): the distribution
-- schema of tests/fixtures/masking/schema.sql, masked with the same fixture
-- policy (tests/fixtures/masking/policy.yaml, strict), with the columns and
-- the data profile of a real distribution business instead of the test
-- fixture's torture values:
--
--   * the fixture's tables and columns, plus the ordinary business columns
--     such a schema has and no policy masks (segment, payment terms,
--     language, currency, channel, shipping method, tracking code, product
--     descriptions and brands, the product text on order lines): 46 text
--     columns, 21 of them masked (46%); weighted by rows, 39% of the non-NULL
--     text values are masked;
--   * realistic lengths: e-mails "first.last123@domain", IBANs with spaces,
--     product descriptions of two to five sentences (~250 bytes), notes
--     and memos mostly NULL;
--   * realistic duplication: order lines pick SKUs with a Zipf popularity
--     (s = 0.9: the top 20% of the catalogue make about 80% of the lines,
--     the best seller about 3%), and repeat the SKU's list price (10% of
--     lines carry a discount); orders repeat their customer's e-mail with a
--     Zipf popularity (s = 0.8: the top 20% of the customers place about 78%
--     of the orders); price lists repeat each SKU for retail and wholesale;
--     contact names repeat (60 first x 80 last names); orders are in time
--     order with one to three lines each;
--   * a little of what real data carries: multibyte UTF-8 in names, streets
--     and descriptions, newlines in some descriptions and notes (escaped in
--     the COPY data), quotes.
--
--   psql -v ON_ERROR_STOP=1 -v scale=240 -f mask_data.sql   (~313 MB plain dump)
--
-- Deterministic: every pseudo-random choice is a hash of the row number.
-- Keys stay unique up to scale 499.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE SCHEMA erp;

CREATE DOMAIN public.email_address AS character varying(120)
    CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');

CREATE TABLE public.customers (
    id integer PRIMARY KEY,
    customer_code character varying(12) NOT NULL UNIQUE,
    company_name character varying(80) NOT NULL,
    contact_name character varying(60),
    email public.email_address NOT NULL UNIQUE,
    phone character varying(30),
    tax_id character varying(20),
    iban character varying(34),
    credit_limit numeric(12,2),
    country character(2) NOT NULL,
    notes text,
    birth_date date,
    created_at timestamp with time zone NOT NULL,
    segment text NOT NULL,
    payment_terms text NOT NULL,
    language character(2) NOT NULL
);

CREATE TABLE public.suppliers (
    id integer PRIMARY KEY,
    name character varying(80) NOT NULL,
    contact_email character varying(120),
    street character varying(100),
    city character varying(60),
    postal_code character varying(10),
    account_no character varying(20),
    country character(2),
    category text,
    payment_terms text,
    currency character(3)
);

CREATE TABLE erp."Supplier Contacts" (
    id integer PRIMARY KEY,
    supplier_id integer NOT NULL REFERENCES public.suppliers(id),
    "Full Name" character varying(80) NOT NULL,
    "E-Mail" text UNIQUE,
    "Phone" character varying(30),
    "Role" text
);

CREATE TABLE public.products (
    sku character varying(16) PRIMARY KEY,
    name text NOT NULL,
    list_price numeric(10,2) NOT NULL CHECK (list_price >= 0),
    cost numeric(10,2),
    category text,
    weight_kg real,
    active boolean NOT NULL DEFAULT true,
    tags text[],
    brand text,
    unit text NOT NULL,
    description text
);

CREATE TABLE public.price_lists (
    id integer PRIMARY KEY,
    label text NOT NULL,
    sku character varying(16) NOT NULL REFERENCES public.products(sku),
    unit_price numeric(10,2) NOT NULL,
    valid_from date NOT NULL,
    currency character(3) NOT NULL
);

CREATE TABLE public.orders (
    id integer PRIMARY KEY,
    customer_email public.email_address NOT NULL REFERENCES public.customers(email),
    order_date date NOT NULL,
    status text NOT NULL,
    memo text,
    channel text NOT NULL,
    shipping_method text NOT NULL,
    tracking_code text,
    currency character(3) NOT NULL
);

CREATE TABLE public.order_lines (
    id integer PRIMARY KEY,
    order_id integer NOT NULL REFERENCES public.orders(id),
    sku character varying(16) NOT NULL REFERENCES public.products(sku),
    qty integer NOT NULL CHECK (qty > 0),
    unit_price numeric(10,2) NOT NULL,
    line_total numeric(12,2) NOT NULL,
    description text NOT NULL,
    unit text NOT NULL,
    CONSTRAINT line_total_is_qty_times_price CHECK (line_total = qty * unit_price)
);

-- u(i, salt): a uniform pseudo-random number in [0, 1) for row i.
CREATE FUNCTION pg_temp.u(i bigint, salt integer) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT (hashint8(i * 1000003 + salt) & 2147483647)::float8 / 2147483648.0
$$;
-- pick(a, i, salt): an element of a, uniformly.
CREATE FUNCTION pg_temp.pick(a text[], i bigint, salt integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT a[1 + floor(pg_temp.u(i, salt) * array_length(a, 1))::integer]
$$;
-- zipf(n, s, i, salt): 1..n with P(k) ~ k^-s (1 the most frequent), by inverting the
-- continuous density on [1, n + 1). s = 0.9: about 20% of the values take 80% of the draws.
CREATE FUNCTION pg_temp.zipf(n bigint, s float8, i bigint, salt integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT least(n, floor(power(1 + pg_temp.u(i, salt) * (power(n + 1, 1 - s) - 1), 1 / (1 - s)))::bigint)
$$;

CREATE FUNCTION pg_temp.first_name(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_temp.pick(ARRAY['Anna','Lukas','Marie','Jonas','Sophie','Leon','Emma','Felix','Mia','Paul','Hannah','Ben',
    'Lena','Noah','Laura','Elias','Julia','Finn','Lea','Jan','Sarah','Tim','Lisa','Max','Katharina','Tobias','Jana',
    'Niklas','Sandra','Stefan','Claire','Pierre','Camille','Louis','Chloé','Hugo','Inès','Lucas','Sanne','Daan','Femke',
    'Bram','Zoë','Jürgen','Björn','Søren','Ana','José','María','Łukasz','Agnieszka','Marco','Giulia','Ahmet','Elif',
    'Kim','Wei','Mehmet','Olga','Dmitri'], i, 11)
$$;
CREATE FUNCTION pg_temp.last_name(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_temp.pick(ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker','Schulz',
    'Hoffmann','Schäfer','Koch','Bauer','Richter','Klein','Wolf','Schröder','Neumann','Schwarz','Zimmermann','Braun',
    'Krüger','Hofmann','Hartmann','Lange','Schmitt','Werner','Schmitz','Krause','Meier','Lehmann','Schmid','Schulze',
    'Maier','Köhler','Herrmann','König','Walter','Mayer','Huber','Kaiser','Fuchs','Peters','Lang','Scholz','Möller',
    'Weiß','Jung','Hahn','Schubert','Martin','Bernard','Dubois','Durand','Lefèvre','Moreau','de Jong','Jansen',
    'de Vries','van den Berg','Bakker','Visser','Smit','Meijer','García','Fernández','Rossi','Russo','Nowak',
    'Kowalski','Yılmaz','Kaya','Ivanova','O''Brien','Murphy','Smith','Jones','Nielsen','Hansen','Andersson'], i, 13)
$$;
CREATE FUNCTION pg_temp.ascii_lower(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT lower(replace(replace(translate(s, 'äöüÄÖÜéèëçñóáíłńśźżğıøåÅØÆæŁ'' ', 'aouAOUeeecnoailnszzgioaAOAaL'),
         'ß', 'ss'), '''', ''))
$$;
CREATE FUNCTION pg_temp.customer_email(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT replace(pg_temp.ascii_lower(pg_temp.first_name(i)) || '.' || pg_temp.ascii_lower(pg_temp.last_name(i)), ' ', '')
         || i || '@' || pg_temp.pick(ARRAY['gmail.com','web.de','gmx.de','t-online.de','outlook.com','orange.fr',
            'ziggo.nl','mueller-bau.de','schmidt-technik.de','handel-nord.de','acme-industries.com','globex.eu',
            'initech.de','vandelay-import.com','hooli.nl','stark-logistik.de'], i, 17)
$$;
CREATE FUNCTION pg_temp.company(i bigint, salt integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_temp.pick(ARRAY['Nord','Süd','West','Alpen','Rhein','Elbe','Hansa','Euro','Inter','Metro','Global',
           'Techno','Bau','Agrar','Medi','Auto','Holz','Stahl','Papier','Textil'], i, salt) ||
         pg_temp.pick(ARRAY['handel','technik','logistik','bau','service','werke','vertrieb','systeme','medien',
           'industrie'], i, salt + 1) || ' ' ||
         pg_temp.pick(ARRAY['GmbH','GmbH & Co. KG','AG','KG','e.K.','OHG','SARL','SAS','B.V.','Ltd','S.r.l.'], i, salt + 2)
$$;
CREATE FUNCTION pg_temp.product_name(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_temp.pick(ARRAY['Bosch','Makita','Würth','Fischer','Hilti','Knipex','Wera','Festool','3M','Tesa',
           'Osram','Philips','Kärcher','Stabila','Gedore'], i, 21) || ' ' ||
         pg_temp.pick(ARRAY['cordless drill','impact driver','angle grinder','wall plug','anchor bolt','screw set',
           'pliers','spirit level','LED panel','cable tie','safety gloves','work light','tape measure','socket set',
           'hex key set','glue gun','duct tape','pressure washer'], i, 22) || ' ' ||
         pg_temp.pick(ARRAY['S','M','L','XL','Pro','Plus','Compact','18V','230V','6x40','8x50','10 m','5 m','2-pack',
           '10-pack','100 pcs'], i, 23)
$$;
CREATE FUNCTION pg_temp.list_price(i bigint) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT round((1.49 + power(pg_temp.u(i, 24), 3) * 900)::numeric, 2)
$$;
CREATE FUNCTION pg_temp.sentence(i bigint, salt integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_temp.pick(ARRAY[
    'Robust housing for daily use on the building site.',
    'Ergonomic grip reduces fatigue during long jobs.',
    'Delivered in a sturdy transport case with room for accessories.',
    'Compatible with all batteries of the same voltage class.',
    'Tested to DIN EN ISO 9001 quality standards.',
    'Suitable for indoor and outdoor use (IP54).',
    'Spare parts available for at least ten years.',
    'Low-noise motor, ideal for occupied buildings.',
    'Made of hardened chrome-vanadium steel.',
    'The "Pro" line is designed for professional, continuous use.',
    'Not suitable for children under 14 years.',
    'Lieferung erfolgt in Mehrwegverpackung – bitte zurücksenden.',
    'Geeignet für Beton, Mauerwerk und Naturstein.',
    'Convient pour un usage intensif en atelier.',
    'Keep dry; store between 5 °C and 30 °C.',
    'Pack contents: 1 unit, manual (DE/EN/FR), warranty card.'], i, salt)
$$;

INSERT INTO public.customers
SELECT i,
       'C' || lpad(i::text, 6, '0') || '-' || upper(substr(md5(i::text), 1, 4)),
       pg_temp.company(i, 30),
       CASE WHEN pg_temp.u(i, 31) < 0.08 THEN NULL
            ELSE pg_temp.first_name(i) || ' ' || pg_temp.last_name(i) END,
       pg_temp.customer_email(i),
       CASE WHEN pg_temp.u(i, 32) < 0.1 THEN NULL
            ELSE pg_temp.pick(ARRAY['+49 30 ', '+49 89 ', '+49 40 ', '+33 1 ', '+31 20 ', '+43 1 '], i, 33)
                 || (1000000 + (i * 7919) % 9000000)::text END,
       CASE WHEN pg_temp.u(i, 34) < 0.2 THEN NULL ELSE 'DE' || lpad(((i * 104729) % 1000000000)::text, 9, '0') END,
       'DE' || lpad((10 + i % 89)::text, 2, '0') || ' ' || lpad(((i * 31337) % 10000)::text, 4, '0') || ' ' ||
           lpad(((i * 7) % 10000)::text, 4, '0') || ' ' || lpad(((i * 4099) % 10000)::text, 4, '0') || ' ' ||
           lpad((i % 10000)::text, 4, '0') || ' ' || lpad((i % 97)::text, 2, '0'),
       CASE WHEN pg_temp.u(i, 35) < 0.1 THEN NULL ELSE (500 * (1 + floor(pg_temp.u(i, 36) * 100)))::numeric(12,2) END,
       pg_temp.pick(ARRAY['DE', 'DE', 'DE', 'FR', 'NL', 'AT'], i, 37),
       CASE WHEN pg_temp.u(i, 38) < 0.85 THEN NULL
            WHEN pg_temp.u(i, 39) < 0.1 THEN 'Call before delivery.' || chr(10) || 'Gate code 4711.'
            ELSE pg_temp.sentence(i, 40) || ' ' || pg_temp.pick(ARRAY['Prefers invoices by post.',
                 'Delivery to the back entrance.', 'Key account since 2019.', 'Ask for Mr. O''Neil at the desk.',
                 'Closed on Fridays.'], i, 41) END,
       CASE WHEN pg_temp.u(i, 42) < 0.5 THEN NULL ELSE date '1950-01-01' + (i * 97 % 18000)::integer END,
       timestamptz '2019-01-01 00:00:00+00' + i * interval '3 minutes',
       pg_temp.pick(ARRAY['retail', 'trade', 'trade', 'key account', 'public sector'], i, 43),
       pg_temp.pick(ARRAY['NET30', 'NET30', 'NET14', 'NET60', '2% 10 NET30', 'prepayment'], i, 44),
       pg_temp.pick(ARRAY['de', 'de', 'de', 'en', 'fr', 'nl'], i, 45)
FROM generate_series(1::bigint, 2000 * :scale) AS i;

INSERT INTO public.suppliers
SELECT i,
       pg_temp.company(i, 50),
       CASE WHEN pg_temp.u(i, 51) < 0.1 THEN NULL ELSE 'sales' || i || '@' ||
            pg_temp.ascii_lower(pg_temp.pick(ARRAY['Nordhandel', 'Metrotechnik', 'Eurologistik', 'Globalwerke'], i, 52)) || '.example' END,
       pg_temp.pick(ARRAY['Hauptstraße', 'Bahnhofstraße', 'Industriestraße', 'Gewerbering', 'Rue de la Paix',
                          'Keizersgracht', 'Am Hafen', 'Lindenallee'], i, 53) || ' ' || (1 + i % 180),
       pg_temp.pick(ARRAY['Berlin', 'München', 'Hamburg', 'Köln', 'Frankfurt am Main', 'Stuttgart', 'Düsseldorf',
                          'Paris', 'Lyon', 'Amsterdam', 'Rotterdam', 'Wien'], i, 54),
       lpad(((i * 13) % 100000)::text, 5, '0'),
       lpad(((i * 7777) % 10000000000)::text, 10, '0'),
       pg_temp.pick(ARRAY['DE', 'DE', 'FR', 'NL', 'AT'], i, 55),
       pg_temp.pick(ARRAY['tools', 'fasteners', 'electrical', 'safety', 'adhesives'], i, 56),
       pg_temp.pick(ARRAY['NET30', 'NET60', 'NET90'], i, 57),
       pg_temp.pick(ARRAY['EUR', 'EUR', 'EUR', 'USD', 'CHF'], i, 58)
FROM generate_series(1::bigint, 200 * :scale) AS i;

INSERT INTO erp."Supplier Contacts"
SELECT i,
       1 + (i - 1) / 2,
       pg_temp.first_name(i + 7) || ' ' || pg_temp.last_name(i + 7),
       CASE WHEN pg_temp.u(i, 60) < 0.15 THEN NULL ELSE 'contact' || i || '@partner.example' END,
       '+49 ' || (100 + i % 900) || ' ' || (100000 + (i * 4567) % 900000),
       pg_temp.pick(ARRAY['Sales', 'Accounting', 'Logistics', 'Management', 'Customer Service'], i, 61)
FROM generate_series(1::bigint, 400 * :scale) AS i;

INSERT INTO public.products
SELECT 'SKU-' || lpad(i::text, 6, '0'),
       pg_temp.product_name(i),
       pg_temp.list_price(i),
       CASE WHEN pg_temp.u(i, 70) < 0.1 THEN NULL ELSE round(pg_temp.list_price(i) * 0.62, 2) END,
       pg_temp.pick(ARRAY['tools', 'fasteners', 'electrical', 'safety', 'adhesives', 'measuring'], i, 71),
       round((0.05 + pg_temp.u(i, 72) * 12)::numeric, 2)::real,
       pg_temp.u(i, 73) < 0.92,
       CASE WHEN pg_temp.u(i, 74) < 0.4 THEN NULL
            ELSE ARRAY[pg_temp.pick(ARRAY['new', 'sale', 'bestseller', 'eco'], i, 75),
                       pg_temp.pick(ARRAY['pro', 'diy', 'bulk'], i, 76)] END,
       pg_temp.pick(ARRAY['Bosch', 'Makita', 'Würth', 'Fischer', 'Hilti', 'Knipex'], i, 77),
       pg_temp.pick(ARRAY['pcs', 'pcs', 'pcs', 'pack', 'box', 'm', 'kg'], i, 78),
       CASE WHEN pg_temp.u(i, 79) < 0.05 THEN NULL
            ELSE concat_ws(CASE WHEN pg_temp.u(i, 80) < 0.1 THEN chr(10) ELSE ' ' END,
                           pg_temp.sentence(i, 81), pg_temp.sentence(i, 82),
                           CASE WHEN pg_temp.u(i, 83) < 0.8 THEN pg_temp.sentence(i, 84) END,
                           CASE WHEN pg_temp.u(i, 85) < 0.6 THEN pg_temp.sentence(i, 86) END,
                           CASE WHEN pg_temp.u(i, 87) < 0.3 THEN pg_temp.sentence(i, 88) END) END
FROM generate_series(1::bigint, 500 * :scale) AS i;

-- two price lists per SKU
INSERT INTO public.price_lists
SELECT i,
       CASE WHEN i % 2 = 1 THEN 'retail' ELSE 'wholesale' END,
       'SKU-' || lpad(((i + 1) / 2)::text, 6, '0'),
       CASE WHEN i % 2 = 1 THEN pg_temp.list_price((i + 1) / 2) ELSE round(pg_temp.list_price((i + 1) / 2) * 0.85, 2) END,
       date '2024-01-01' + (((i + 1) / 2) % 365)::integer,
       'EUR'
FROM generate_series(1::bigint, 1000 * :scale) AS i;

-- orders in time order; customers by Zipf popularity (s = 0.8: 20% of the customers place ~70% of the orders)
INSERT INTO public.orders
SELECT i,
       pg_temp.customer_email(pg_temp.zipf(2000 * :scale, 0.8, i, 90)),
       date '2021-01-01' + (i * 1000 / (3000 * :scale))::integer,
       CASE WHEN i > 2970 * :scale THEN 'open' WHEN pg_temp.u(i, 91) < 0.03 THEN 'cancelled' ELSE 'delivered' END,
       CASE WHEN pg_temp.u(i, 92) < 0.9 THEN NULL
            ELSE pg_temp.pick(ARRAY['urgent', 'partial delivery ok', 'invoice to head office',
                                    'deliver before 10:00, ramp 3', 'PO 4500012345'], i, 93) END,
       pg_temp.pick(ARRAY['web', 'web', 'edi', 'phone', 'field sales', 'store'], i, 94),
       pg_temp.pick(ARRAY['DHL Paket', 'DPD Classic', 'UPS Standard', 'freight forwarder', 'pickup'], i, 95),
       CASE WHEN i > 2970 * :scale THEN NULL
            ELSE 'JJD' || lpad(((i * 982451653) % 1000000000000000)::text, 18, '0') END,
       'EUR'
FROM generate_series(1::bigint, 3000 * :scale) AS i;

-- one to three lines per order (two on average); SKUs by Zipf popularity (s = 0.9:
-- 20% of the SKUs make ~80% of the lines) at
-- their list price, 10% of the lines discounted
INSERT INTO public.order_lines
SELECT row_number() OVER (ORDER BY o, k), o, 'SKU-' || lpad(s::text, 6, '0'), q, p, q * p,
       pg_temp.product_name(s), pg_temp.pick(ARRAY['pcs', 'pcs', 'pcs', 'pack', 'box', 'm', 'kg'], s, 78)
FROM (SELECT o, k, s, q,
             CASE WHEN pg_temp.u(o * 4 + k, 103) < 0.1 THEN round(pg_temp.list_price(s) * 0.9, 2)
                  ELSE pg_temp.list_price(s) END AS p
      FROM (SELECT o, k, pg_temp.zipf(500 * :scale, 0.9, o * 4 + k, 101) AS s,
                   (ARRAY[1, 1, 1, 2, 2, 3, 4, 5, 10, 12, 20, 50])[1 + floor(pg_temp.u(o * 4 + k, 102) * 12)::integer] AS q
            FROM generate_series(1::bigint, 3000 * :scale) AS o,
                 generate_series(1, 1 + floor(pg_temp.u(o, 100) * 3)::integer) AS k) a) b;

ANALYZE;
