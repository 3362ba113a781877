/* Dictionary access for the name/company/street/city rules and the seeding engine. */
#include "stagefork/dict.h"
#include "dict_data.h"

static const char *const *list(sf_dict_kind kind, size_t *n)
{
    switch (kind) {
    case SF_DICT_FIRST_NAME:
        *n = sf_dict_first_names_count;
        return sf_dict_first_names;
    case SF_DICT_LAST_NAME:
        *n = sf_dict_last_names_count;
        return sf_dict_last_names;
    case SF_DICT_COMPANY:
        *n = sf_dict_companies_count;
        return sf_dict_companies;
    case SF_DICT_STREET:
        *n = sf_dict_streets_count;
        return sf_dict_streets;
    case SF_DICT_CITY:
        *n = sf_dict_cities_count;
        return sf_dict_cities;
    default:
        *n = 0;
        return NULL;
    }
}

size_t sf_dict_size(sf_dict_kind kind)
{
    size_t n;
    (void)list(kind, &n);
    return n;
}

const char *sf_dict_get(sf_dict_kind kind, size_t index)
{
    size_t n;
    const char *const *l = list(kind, &n);
    return l && index < n ? l[index] : NULL;
}

const char *sf_dict_name(sf_dict_kind kind)
{
    static const char *const names[] = {"first_name", "last_name", "company", "street", "city"};
    return (unsigned)kind < SF_DICT__COUNT ? names[kind] : NULL;
}
