CREATE TABLE public.t (a integer, b text);
INSERT INTO public.t VALUES (1, 'x'), (2, NULL);
INSERT INTO public.t (a, b) VALUES (3, E'\\n'::text);
