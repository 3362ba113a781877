#ifndef SF_MASKING_DICT_DATA_H
#define SF_MASKING_DICT_DATA_H
/* The word lists behind stagefork/dict.h (dict_data.c). */
#include <stddef.h>

extern const char *const sf_dict_first_names[];
extern const size_t sf_dict_first_names_count;
extern const char *const sf_dict_last_names[];
extern const size_t sf_dict_last_names_count;
extern const char *const sf_dict_companies[];
extern const size_t sf_dict_companies_count;
extern const char *const sf_dict_streets[];
extern const size_t sf_dict_streets_count;
extern const char *const sf_dict_cities[];
extern const size_t sf_dict_cities_count;

#endif
