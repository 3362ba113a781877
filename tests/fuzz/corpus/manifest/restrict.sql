\restrict abc
CREATE TABLE t (a int);
\unrestrict abc
