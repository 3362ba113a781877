CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
CREATE DOMAIN public.d AS character varying(3);
CREATE TABLE public.people (id int, name public.d, email public.d[], note text) INHERITS (public.x);
SET search_path = public;
COPY people FROM stdin;
\.
