/* SPDX-License-Identifier: MIT */
/* Tells when connectivity may have appeared (a link came up, a route or an address was added), from
 * the kernel's rtnetlink multicast groups on sd-event. Decides nothing: the caller retries. */
#pragma once

#include <systemd/sd-event.h>

#include "util.h"

typedef struct NetWatch NetWatch;

/* Called from the loop after a burst of interesting messages has been read (one call per burst). */
typedef void (*netwatch_fn)(NetWatch *w, void *userdata);

/* Opens a NETLINK_ROUTE socket subscribed to link, route and address changes (IPv4 and IPv6).
 * -errno when the socket cannot be opened (e.g. no netlink in a sandbox). */
int netwatch_new(sd_event *event, netwatch_fn cb, void *userdata, NetWatch **ret);
NetWatch *netwatch_free(NetWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetWatch *, netwatch_free);
