/* SPDX-License-Identifier: MIT */
/* Test fixture for the bus harness: owns NAME on the system bus (DBUS_SYSTEM_BUS_ADDRESS) and
 * serves one read-only property, Answer=42, until SIGTERM. */
#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "util.h"

static int answer_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", 42);
}

static const sd_bus_vtable fixture_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Answer", "u", answer_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        sigset_t ss;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: bus-fixture NAME\n");
                return 2;
        }
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigprocmask(SIG_BLOCK, &ss, NULL);

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/attestd/Test", "org.attestd.Test",
                                             fixture_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, argv[1], 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r < 0) {
                fprintf(stderr, "bus-fixture: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(event);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}
