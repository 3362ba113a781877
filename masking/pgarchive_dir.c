#include "pgarchive_int.h"
int pga_dir_run(pga_job *j, sf_error *err) { (void)j; return sf_error_set(err, SF_EUSAGE, "todo"); }
