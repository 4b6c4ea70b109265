/* SPDX-License-Identifier: MIT */
/* org.attestd.Attest1 on the system bus: the vtable, property getters and method handlers.
 * Handlers only parse, call one manager function and reply. */
#pragma once

#include "manager.h"

#define BUS_NAME "org.attestd.Attest1"
#define BUS_PATH "/org/attestd/Attest1"
#define BUS_INTERFACE "org.attestd.Attest1"
#define BUS_ERROR_DENIED "org.attestd.Attest1.Error.Denied"
#define BUS_ERROR_FAILED "org.attestd.Attest1.Error.Failed"
#define BUS_ERROR_RELOAD_FAILED "org.attestd.Attest1.Error.ReloadFailed"

/* Opens the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), adds the object, takes the name and
 * attaches to the manager's event loop. */
int bus_connect(Manager *m);

/* Emits PropertiesChanged for every property that can change. No-op without a bus. */
void bus_emit_changed(Manager *m);

/* Replies to every Attest() call waiting for the attempt that just ended. */
void bus_reply_pending_attest(Manager *m);
