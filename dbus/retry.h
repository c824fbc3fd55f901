// A step corrald's loop may not wait for (a lock another process holds) tried again later from
// a timer of the loop, never by blocking in it.
#ifndef CORRAL_DBUS_RETRY_H_
#define CORRAL_DBUS_RETRY_H_

#include "common/clock.h"
#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>

namespace corral::dbus {

// Calls `attempt` from `event` after `interval_usec`, and again after each further interval
// for as long as it returns false; it owns its own deadline (it returns true once it gave up).
// Returns false when the timer could not be added (then `attempt` never runs).
bool RetryLater(sd_event* event, uint64_t interval_usec, std::function<bool()> attempt);


}  // namespace corral::dbus

#endif  // CORRAL_DBUS_RETRY_H_
