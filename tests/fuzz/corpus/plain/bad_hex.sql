CREATE TABLE public.t (a int, b text);
COPY public.t (a, b) FROM stdin;
1	b\x
