#ifndef SF_MASKING_POLICY_H
#define SF_MASKING_POLICY_H
/*
 * The loaded masking policy as the rule side sees it (policy.c builds it,
 * transform.c compiles it into table plans). Not public: the dump side only
 * uses the queries in stagefork/mask.h and rowmask.h.
 *
 * The policy keeps its YAML tree alive so plan-time errors (unknown column,
 * rule not fitting the column's type) can still name file:line:column.
 */

#include <stddef.h>
#include <stdint.h>
#include "stagefork/mask.h"
#include "stagefork/yaml.h"

typedef enum {
    SF_RULE_KEEP = 0,
    SF_RULE_NULL,
    SF_RULE_FIXED,
    SF_RULE_TOKEN,
    SF_RULE_EMAIL,
    SF_RULE_NAME,
    SF_RULE_FIRST_NAME,
    SF_RULE_LAST_NAME,
    SF_RULE_COMPANY,
    SF_RULE_STREET,
    SF_RULE_CITY,
    SF_RULE_DIGITS,
    SF_RULE_ALNUM,
    SF_RULE_NOISE,
    SF_RULE_DATE_SHIFT,
    SF_RULE_EXPR,
    SF_RULE__COUNT
} sf_rule_kind;

/* Token defaults and limits (characters of base32). */
#define SF_TOKEN_DEFAULT_LEN 20
#define SF_TOKEN_MIN_LEN 16
#define SF_TOKEN_MAX_LEN 64
/* Email local parts are always this many base32 characters (80 bits). */
#define SF_EMAIL_TOKEN_LEN 16
#define SF_EMAIL_DEFAULT_DOMAIN "example.com"
#define SF_EMAIL_SHORT_DOMAIN "x.io"
/* Noise P is kept as an integer count of 1e-9 (P = noise_p / 1e9). */
#define SF_NOISE_SCALE 1000000000u
#define SF_DATE_SHIFT_MAX_DAYS 36500

typedef struct sf_rule {
    sf_rule_kind kind;
    const sf_node *key;    /* the column key in the policy */
    const sf_node *node;   /* the rule's value */
    char *column;          /* real column name */
    /* fixed */
    char *fixed;
    size_t fixed_len;
    /* token */
    char *prefix;
    int length;
    /* email (lower case) */
    char *domain;
    /* digits, alnum: the first N characters are left as they are */
    int keep_leading;
    /* noise */
    uint32_t noise_p;
    /* noise, date_shift: take the PRF input from this column's original value */
    char *by;
    const sf_node *by_node;
    /* date_shift */
    int days;
    /* expr */
    char *expr;
    /*
     * The rule kind and every parameter that changes its output, as text
     * ("token|prefix=C-|length=20"). It is the HKDF info of the rule's
     * subkeys, so equal rules in any table give equal outputs; table and
     * column names are deliberately not part of it.
     */
    char *sig;
} sf_rule;

typedef struct sf_policy_table {
    char *schema, *name;   /* real names */
    const sf_node *key;
    sf_rule *rules;
    size_t nrules;
} sf_policy_table;

/* The policy's table entry for a real schema.table, or NULL. */
const sf_policy_table *sf_policy_find(const sf_mask_policy *pol, const char *schema, const char *table);
/*
 * The column name contains one of the policy's `sensitive` substrings,
 * comparing lower-case letters and digits only ("E-Mail" matches email).
 */
int sf_policy_is_sensitive(const sf_mask_policy *pol, const char *column);
/* "email", "noise", ... */
const char *sf_rule_kind_name(sf_rule_kind kind);

#endif
