/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_explain: the condition tests of a rule's "match" and "except" blocks,
 * written once and used twice: by pol_set_eval() (why == NULL: stop at the
 * first condition that fails, allocate nothing) and by `steward-policy
 * explain` (why != NULL: test every condition and say why each held or
 * not).  Sharing the code is what makes an explanation trustworthy: it
 * cannot drift from what the sidecar enforces.
 *
 * Also the glob matcher of model, principal and tenant patterns: '*', '?'
 * (one UTF-8 character), '[...]' byte classes with ranges and '!' or '^'
 * negation, '\' escapes; case-sensitive; no allocation, no locale (unlike
 * fnmatch(3)); a pattern is checked at load (pol_glob_check) so a broken
 * one is a load error, never a rule that silently matches nothing.
 * Any thread.
 */
#include "policy/pol_internal.h"

#include <string.h>

/* ------------------------------------------------------------ globs */

const char *
pol_glob_check(const char *p)
{
    for (; *p != '\0'; p++) {
        if (*p == '\\') {
            if (p[1] == '\0')
                return "ends with a lone '\\'";
            p++;
        } else if (*p == '[') {
            const char *q = p + 1;

            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q != '\0' && *q != ']')
                q++;
            if (*q == '\0')
                return "'[' without a closing ']'";
            p = q;
        }
    }
    return NULL;
}

static size_t
utf8_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

    for (size_t k = 1; k < n; k++)
        if (s[k] == '\0')
            return k;
    return n;
}

/* Does the class starting after '[' at *pp match byte c?  Advances *pp
 * past the closing ']'. */
static bool
class_match(const char **pp, unsigned char c)
{
    const char *p = *pp;
    bool neg = false, hit = false;

    if (*p == '!' || *p == '^') {
        neg = true;
        p++;
    }
    do {
        unsigned char lo = (unsigned char)*p, hi;

        if (lo == '\\' && p[1] != '\0')
            lo = (unsigned char)*++p;
        p++;
        hi = lo;
        if (*p == '-' && p[1] != ']' && p[1] != '\0') {
            p++;
            hi = (unsigned char)*p;
            if (hi == '\\' && p[1] != '\0')
                hi = (unsigned char)*++p;
            p++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    } while (*p != ']' && *p != '\0');
    *pp = *p == ']' ? p + 1 : p;
    return hit != neg;
}

bool
pol_glob_match(const char *p, const char *s)
{
    const char *star_p = NULL, *star_s = NULL;

    while (*s != '\0') {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (*p == '\0')
                return true;
            star_p = p;
            star_s = s;
            continue;
        }
        if (*p == '?') {
            p++;
            s += utf8_len(s);
            continue;
        }
        if (*p == '[') {
            const char *q = p + 1;

            if (class_match(&q, (unsigned char)*s)) {
                p = q;
                s++;
                continue;
            }
        } else {
            const char *lit = p;

            if (*lit == '\\' && lit[1] != '\0')
                lit++;
            if (*lit != '\0' && *lit == *s) {
                p = lit + 1;
                s++;
                continue;
            }
        }
        /* Mismatch: let the last '*' swallow one more character. */
        if (star_p == NULL)
            return false;
        star_s += utf8_len(star_s);
        s = star_s;
        p = star_p;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* ------------------------------------------------------------ conditions */

static void
line(struct cm_buf *why, const char *indent, bool ok)
{
    cm_buf_printf(why, "%s%s ", indent, ok ? "yes" : "no ");
}

static void
list(struct cm_buf *why, const struct pol_strs *s)
{
    cm_buf_putc(why, '[');
    for (size_t k = 0; k < s->n; k++)
        cm_buf_printf(why, "%s\"%s\"", k ? ", " : "", s->v[k]);
    cm_buf_putc(why, ']');
}

/* One string condition (globs or exact); NULL value fails. */
static bool
str_cond(const struct pol_strs *s, const char *val, bool glob, const char *what, const char *indent,
         struct cm_buf *why)
{
    size_t hit = s->n;

    if (val != NULL) {
        for (size_t k = 0; k < s->n && hit == s->n; k++)
            if (glob ? pol_glob_match(s->v[k], val) : strcmp(s->v[k], val) == 0)
                hit = k;
    }
    if (why != NULL) {
        line(why, indent, hit < s->n);
        if (val == NULL)
            cm_buf_printf(why, "%s: none given, the rule wants ", what);
        else if (hit < s->n)
            cm_buf_printf(why, "%s \"%s\" %s \"%s\"", what, val, glob ? "matches" : "is",
                          s->v[hit]);
        else
            cm_buf_printf(why, "%s \"%s\" %s ", what, val, glob ? "matches none of" : "is not in");
        if (val == NULL || hit == s->n)
            list(why, s);
        cm_buf_putc(why, '\n');
    }
    return hit < s->n;
}

static void
bits(struct cm_buf *why, unsigned set, const char *(*name)(unsigned))
{
    bool first = true;

    cm_buf_putc(why, '[');
    for (unsigned k = 0; k < 32; k++) {
        if (set & (1u << k)) {
            cm_buf_printf(why, "%s%s", first ? "" : ", ", name(k));
            first = false;
        }
    }
    cm_buf_putc(why, ']');
}

static const char *
route_name_bit(unsigned k)
{
    return pol_route_name((enum pol_route)k);
}

static const char *
modality_name_bit(unsigned k)
{
    return pol_modality_name((enum pol_modality)(1u << k));
}

static const char *
dir_name_bit(unsigned k)
{
    return k == 0 ? "request" : "response";
}

uint64_t
pol_present(const struct pol_set *ps, const struct pol_input *in)
{
    uint64_t present = 0;

    for (unsigned l = 0; l < ps->nlabels; l++)
        if (in->counts[l] > 0)
            present |= (uint64_t)1 << l;
    return present;
}

bool
pol_cond_eval(const struct pol_set *ps, const struct pol_cond *c, enum pol_dir dir,
              const struct pol_input *in, uint64_t present, const char *indent, struct cm_buf *why)
{
    bool all = true, ok;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        ok = (expr);                                                                               \
        all = all && ok;                                                                           \
        if (!all && why == NULL)                                                                   \
            return false;                                                                          \
    } while (0)

    /* Bit tests first: they are cheap and usually decide. */
    if (c->dirs != 0) {
        CHECK((c->dirs & (1u << dir)) != 0);
        if (why != NULL) {
            line(why, indent, ok);
            cm_buf_printf(why, "direction %s %s ", dir == POL_DIR_REQUEST ? "request" : "response",
                          ok ? "is in" : "is not in");
            bits(why, c->dirs, dir_name_bit);
            cm_buf_putc(why, '\n');
        }
    }
    if (c->routes != 0) {
        CHECK((c->routes & (1u << in->route)) != 0);
        if (why != NULL) {
            line(why, indent, ok);
            cm_buf_printf(why, "route %s %s ", pol_route_name(in->route),
                          ok ? "is in" : "is not in");
            bits(why, c->routes, route_name_bit);
            cm_buf_putc(why, '\n');
        }
    }
    if (c->modalities != 0) {
        CHECK((c->modalities & in->modalities) != 0);
        if (why != NULL) {
            line(why, indent, ok);
            cm_buf_puts(why, "modalities present ");
            bits(why, in->modalities, modality_name_bit);
            cm_buf_printf(why, " %s ", ok ? "include one of" : "include none of");
            bits(why, c->modalities, modality_name_bit);
            cm_buf_putc(why, '\n');
        }
    }
    if (c->any_findings != 0) {
        uint64_t hits = c->any_findings & present;

        CHECK(hits != 0);
        if (why != NULL) {
            line(why, indent, ok);
            if (ok) {
                unsigned l = (unsigned)__builtin_ctzll(hits);

                cm_buf_printf(why, "findings: %u %s found\n", in->counts[l], ps->label_names[l]);
            } else {
                bool first = true;

                cm_buf_puts(why, "findings: none of [");
                for (unsigned l = 0; l < ps->nlabels; l++) {
                    if (c->any_findings & ((uint64_t)1 << l)) {
                        cm_buf_printf(why, "%s%s", first ? "" : ", ", ps->label_names[l]);
                        first = false;
                    }
                }
                cm_buf_puts(why, "] found\n");
            }
        }
    }
    for (size_t k = 0; k < c->ncounts; k++) {
        const struct pol_count *pc = &c->counts[k];
        unsigned n = in->counts[pc->label];

        CHECK(n >= pc->min && n <= pc->max);
        if (why != NULL) {
            line(why, indent, ok);
            cm_buf_printf(why, "findings: %u %s, the rule wants", n, ps->label_names[pc->label]);
            if (pc->min > 0)
                cm_buf_printf(why, " at least %u", pc->min);
            if (pc->max != ~0u)
                cm_buf_printf(why, "%s at most %u", pc->min > 0 ? " and" : "", pc->max);
            cm_buf_putc(why, '\n');
        }
    }

    /* Then the string lists. */
    if (c->groups.n > 0) {
        size_t hit = SIZE_MAX;

        for (size_t g = 0; g < in->caller.ngroups && hit == SIZE_MAX; g++)
            for (size_t k = 0; k < c->groups.n && hit == SIZE_MAX; k++)
                if (strcmp(c->groups.v[k], in->caller.groups[g]) == 0)
                    hit = k;
        CHECK(hit != SIZE_MAX);
        if (why != NULL) {
            line(why, indent, ok);
            if (ok) {
                cm_buf_printf(why, "groups: the caller is in \"%s\"\n", c->groups.v[hit]);
            } else {
                cm_buf_puts(why, "groups: the caller is in none of ");
                list(why, &c->groups);
                cm_buf_putc(why, '\n');
            }
        }
    }
    if (c->purpose.n > 0)
        CHECK(str_cond(&c->purpose, in->purpose, false, "purpose", indent, why));
    if (c->principal.n > 0)
        CHECK(str_cond(&c->principal, in->caller.principal, true, "principal", indent, why));
    if (c->tenant.n > 0)
        CHECK(str_cond(&c->tenant, in->caller.tenant, true, "tenant", indent, why));
    if (c->model.n > 0)
        CHECK(str_cond(&c->model, in->model, true, "model", indent, why));
    if (c->content_type.n > 0)
        CHECK(str_cond(&c->content_type, in->content_type, false, "content type", indent, why));
#undef CHECK
    return all;
}

void
pol_set_explain_rule(const struct pol_set *ps, size_t idx, enum pol_dir dir,
                     const struct pol_input *in, struct cm_buf *out)
{
    const struct pol_rule *r = &ps->rules[idx];
    uint64_t present = pol_present(ps, in);
    bool m, e = false;

    if (r->match.present) {
        cm_buf_puts(out, "    match:\n");
        m = pol_cond_eval(ps, &r->match, dir, in, present, "      ", out);
    } else {
        cm_buf_puts(out, "    match: (no conditions: every exchange)\n");
        m = true;
    }
    if (r->except.present) {
        cm_buf_puts(out, "    except (the rule does not apply when all of these hold):\n");
        e = pol_cond_eval(ps, &r->except, dir, in, present, "      ", out);
    }
    if (m && !e)
        cm_buf_printf(out, "    => matches: %s\n", r->why);
    else if (m)
        cm_buf_puts(out, "    => does not match: its except block holds\n");
    else
        cm_buf_puts(out, "    => does not match\n");
}
