#include "dbus/retry.h"

#include <time.h>

#include <memory>
#include <utility>

namespace corral::dbus {

namespace {

struct Retry {
  uint64_t interval_usec;
  std::function<bool()> attempt;
  sd_event_source* source = nullptr;
  ~Retry() { sd_event_source_disable_unref(source); }
};

int OnTimer(sd_event_source* source, uint64_t, void* data) {
  auto* retry = static_cast<Retry*>(data);
  if (retry->attempt()) {
    delete retry;
    return 0;
  }
  uint64_t now = 0;
  sd_event_now(sd_event_source_get_event(source), CLOCK_MONOTONIC, &now);
  sd_event_source_set_time(source, now + retry->interval_usec);
  sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  return 0;
}

}  // namespace

bool RetryLater(sd_event* event, uint64_t interval_usec, std::function<bool()> attempt) {
  auto retry = std::make_unique<Retry>();
  retry->interval_usec = interval_usec;
  retry->attempt = std::move(attempt);
  if (sd_event_add_time_relative(event, &retry->source, CLOCK_MONOTONIC, interval_usec, 0, OnTimer, retry.get()) < 0) {
    return false;
  }
  retry.release();  // freed by OnTimer once the attempt is done
  return true;
}


}  // namespace corral::dbus
