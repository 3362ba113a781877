CREATE TABLE public.people (id integer, name text, email text, note text);
COPY public.people (id, name, email, note) FROM stdin;
1	Ann	a@b.c	x\ty
2	\N	\N	\\N
\.
