COPY public.t (a, b) FROM stdin;
1	2
