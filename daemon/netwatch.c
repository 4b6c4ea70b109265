/* SPDX-License-Identifier: MIT */
/* rtnetlink watch: a NETLINK_ROUTE socket on the link, route and address multicast groups. Not
 * sd-network's sd_network_monitor: that watches systemd-networkd's state files only, and hosts
 * configured by NetworkManager, ifupdown or a cloud agent would never report a change. sd-netlink,
 * which would parse these messages for us, is not public API in libsystemd 252. */
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "netwatch.h"

struct NetWatch {
        int fd;
        sd_event_source *source;
        netwatch_fn cb;
        void *userdata;
};

/* A link that is up with carrier, or any new route or address: connectivity may have appeared. */
static bool interesting(const struct nlmsghdr *h) {
        switch (h->nlmsg_type) {
        case RTM_NEWLINK: {
                const struct ifinfomsg *ifi = NLMSG_DATA(h);
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
                        return false;
                return (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
        }
        case RTM_NEWROUTE:
        case RTM_NEWADDR:
                return true;
        default:
                return false;
        }
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NetWatch *w = userdata;
        bool any = false;

        for (;;) {
                union {
                        struct nlmsghdr h;
                        uint8_t buf[8192];
                } u;
                ssize_t n = recv(fd, &u, sizeof u, MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* ENOBUFS: the kernel dropped messages; whatever they said, look again. */
                        if (errno == ENOBUFS)
                                any = true;
                        else if (errno != EAGAIN)
                                log_debug_errno(errno, "Reading rtnetlink failed, ignoring: %m");
                        break;
                }
                for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n))
                        any = any || interesting(h);
        }
        if (any)
                w->cb(w, w->userdata);
        return 0;
}

int netwatch_new(sd_event *event, netwatch_fn cb, void *userdata, NetWatch **ret) {
        _cleanup_(netwatch_freep) NetWatch *w = NULL;
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
                .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_IFADDR |
                             RTMGRP_IPV6_IFADDR,
        };
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->cb = cb;
        w->userdata = userdata;
        w->fd = -EBADF;
        w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (w->fd < 0)
                return -errno;
        if (bind(w->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        r = sd_event_add_io(event, &w->source, w->fd, EPOLLIN, on_readable, w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

NetWatch *netwatch_free(NetWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        safe_close(w->fd);
        free(w);
        return NULL;
}
