/* SPDX-License-Identifier: MIT */
/* Levenshtein distance over one stack row, and the nearest-name suggestion built on it. */
#include <ctype.h>

#include "edit-distance.h"

size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), row[EDIT_DISTANCE_NAME_MAX + 1];

        if (la > EDIT_DISTANCE_NAME_MAX || lb > EDIT_DISTANCE_NAME_MAX)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diagonal = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t above = row[j];
                        size_t cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);

                        row[j] = MIN(MIN(above + 1, row[j - 1] + 1), diagonal + cost);
                        diagonal = above;
                }
        }
        return row[lb];
}

const char *edit_distance_suggest(const char *name, const char *const *candidates, size_t n) {
        size_t limit = MAX((size_t) 2, strlen(name) / 3), best = SIZE_MAX;
        const char *found = NULL;

        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(name, candidates[i]);
                if (d <= limit && d < best) {
                        best = d;
                        found = candidates[i];
                }
        }
        return found;
}
