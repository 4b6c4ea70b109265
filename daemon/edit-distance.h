/* SPDX-License-Identifier: MIT */
/* Edit distance between short names, for "did you mean ...?" hints on misspelt configuration keys.
 * Pure; no allocation beyond a stack row. */
#pragma once

#include "util.h"

/* Longest name edit_distance() compares; longer names compare as SIZE_MAX. */
#define EDIT_DISTANCE_NAME_MAX 64

/* The Levenshtein distance between A and B, ignoring ASCII case (keys are read case-sensitively,
 * but "method" for "Method" is still the likeliest intent). SIZE_MAX if either is too long. */
size_t edit_distance(const char *a, const char *b);

/* The entry of CANDIDATES (N of them) nearest to NAME, or NULL when none is within a distance of
 * 2, or of a third of NAME's length for long names: a wild guess helps nobody. */
const char *edit_distance_suggest(const char *name, const char *const *candidates, size_t n);
