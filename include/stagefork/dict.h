#ifndef STAGEFORK_DICT_H
#define STAGEFORK_DICT_H
/*
 * Realistic, international word lists (UTF-8) shared by the masking rules
 * (name, first_name, last_name, company, street, city) and the seeding
 * engine. The lists and their order are part of the output contract:
 * changing them changes masked values, so entries are only ever appended.
 */

#include <stddef.h>

typedef enum {
    SF_DICT_FIRST_NAME = 0,
    SF_DICT_LAST_NAME,
    SF_DICT_COMPANY,
    SF_DICT_STREET,
    SF_DICT_CITY,
    SF_DICT__COUNT
} sf_dict_kind;

/* Number of entries of a list (0 for an unknown kind). */
size_t sf_dict_size(sf_dict_kind kind);
/* Entry `index` (static storage), or NULL when index >= sf_dict_size(kind). */
const char *sf_dict_get(sf_dict_kind kind, size_t index);
/* "first_name", "last_name", "company", "street", "city". */
const char *sf_dict_name(sf_dict_kind kind);

#endif
