#ifndef SF_MASKING_EXPR_H
#define SF_MASKING_EXPR_H
/*
 * The `expr` rule's arithmetic: + - * /, unary minus, parentheses, decimal
 * literals and column references (SQL identifier rules: qty, "Unit Price").
 * Parsed once (policy load checks the syntax, the table plan binds the
 * column references), evaluated per row in exact decimal.
 */

#include <stddef.h>
#include "decimal.h"

typedef struct sf_expr sf_expr;

/*
 * Check the syntax only. On error returns -1, *at is the byte offset and
 * msg says what was expected.
 */
int sf_expr_check_syntax(const char *text, size_t len, size_t *at, char *msg, size_t msgcap);

/* Parse; same errors as sf_expr_check_syntax, -2 when out of memory. */
int sf_expr_parse(sf_expr **out, const char *text, size_t len, size_t *at, char *msg, size_t msgcap);
void sf_expr_free(sf_expr *e);

/* The distinct column names referenced, in order of first use (real names). */
size_t sf_expr_nrefs(const sf_expr *e);
const char *sf_expr_ref(const sf_expr *e, size_t i);

/*
 * Evaluate with vals[i] holding the value of reference i. Division keeps
 * `div_scale` decimals. Returns SF_DEC_OK, SF_DEC_RANGE (overflow) or
 * SF_DEC_DIV0.
 */
int sf_expr_eval(const sf_expr *e, const sf_dec *vals, int div_scale, sf_dec *out);
/*
 * The same in small decimals, for expressions without division: 0 with the
 * exact result sf_expr_eval gives, or -1 when it cannot tell (a division, a
 * constant or an intermediate result too large): use sf_expr_eval.
 */
int sf_expr_eval_small(const sf_expr *e, const sf_sdec *vals, sf_sdec *out);

/* An operand of a product: reference `ref`, or (ref = SIZE_MAX) the constant *cval. */
typedef struct sf_expr_operand {
    size_t ref;
    const sf_sdec *cval;
} sf_expr_operand;

/*
 * 1 when e is one product x * y of two references or small constants (the
 * shape of "qty * unit_price"), which the caller may compute with
 * sf_sdec_mul_text instead of evaluating the program; 0 otherwise.
 */
int sf_expr_product(const sf_expr *e, sf_expr_operand *x, sf_expr_operand *y);

#endif
