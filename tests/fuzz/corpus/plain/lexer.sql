\restrict k
SET standard_conforming_strings = off;
SELECT $a$ ; $a$, 'it\'s', "x;y" /* c /* n */ ; */ ;
-- c ;
\unrestrict k
