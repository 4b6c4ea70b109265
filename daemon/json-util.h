/* SPDX-License-Identifier: MIT */
/* Small json-c helpers shared by the modules that build JSON (token.json, attestctl, MAA messages). */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* Adds V (consumed, also on failure) to O under KEY. V == NULL (a failed json_object_new_*())
 * is -ENOMEM, so calls can be chained without checking each constructor. */
static inline int json_add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}
