/* ident.c: SQL identifier validation (names from options reach SQL text). */
#include "core.h"

bool di_ident_valid(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (digit && p != s)))
            return false;
    }
    return n <= 64;
}
