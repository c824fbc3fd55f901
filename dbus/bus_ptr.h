// Owners for sd-bus and sd-event objects (as tools/ctl/bus.h has for corralctl): a message, a
// slot, a tracker, an event source, an error, each released exactly once by its destructor.
#ifndef CORRAL_DBUS_BUS_PTR_H_
#define CORRAL_DBUS_BUS_PTR_H_

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>

namespace corral::dbus {

struct EventSourceRelease {
  void operator()(sd_event_source* source) const { sd_event_source_disable_unref(source); }
};
// Disabled and released: its callback never runs after the owner is gone.
using EventSourcePtr = std::unique_ptr<sd_event_source, EventSourceRelease>;

struct MessageRelease {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageRelease>;

// A reference of its own to `m`, shared (for callbacks that std::function must copy).
inline std::shared_ptr<sd_bus_message> ShareMessage(sd_bus_message* m) {
  return std::shared_ptr<sd_bus_message>(sd_bus_message_ref(m), MessageRelease());
}

struct SlotRelease {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotRelease>;

struct TrackRelease {
  void operator()(sd_bus_track* track) const { sd_bus_track_unref(track); }
};
using TrackPtr = std::unique_ptr<sd_bus_track, TrackRelease>;

// An sd_bus_error freed at the end of its scope.
class BusErrorHolder {
 public:
  BusErrorHolder() = default;
  BusErrorHolder(const BusErrorHolder&) = delete;
  BusErrorHolder& operator=(const BusErrorHolder&) = delete;
  ~BusErrorHolder() { sd_bus_error_free(&error_); }
  sd_bus_error* get() { return &error_; }
  bool is_set() const { return sd_bus_error_is_set(&error_); }

 private:
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_BUS_PTR_H_
