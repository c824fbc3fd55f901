#include "dbus/service.h"

#include <utility>

#include "common/errors.h"
#include "common/status_macros.h"
#include "dbus/container_object.h"
#include "dbus/event_log.h"
#include "dbus/interface.h"

namespace corral::dbus {

absl::StatusOr<std::unique_ptr<Service>> Service::Create(sd_event* event, sd_bus* bus, ServiceOptions options) {
  std::unique_ptr<Service> service(new Service(event, bus, std::move(options)));
  std::vector<std::string> problems;
  RETURN_IF_ERROR(service->registry_.Load(&problems));
  for (const std::string& problem : problems) ::fprintf(stderr, "corrald: skipping %s\n", problem.c_str());
  ASSIGN_OR_RETURN(service->systemd_, SystemdClient::Create(bus));
  const ServiceOptions& o = service->options_;
  service->launcher_ = std::make_unique<ForkingLauncher>(o.network_config, o.paths.volumes_root);
  LifecycleOptions lifecycle;
  lifecycle.network_config = o.network_config;
  lifecycle.volumes_root = o.paths.volumes_root;
  lifecycle.default_stop_timeout_seconds = o.default_stop_timeout_seconds;
  lifecycle.start_timeout_seconds = o.start_timeout_seconds;
  service->lifecycle_ =
      std::make_unique<Lifecycle>(event, &service->registry_, service->systemd_.get(), service->systemd_.get(),
                                  service->launcher_.get(), service.get(), std::move(lifecycle));
  RETURN_IF_ERROR(service->Publish(bus, &service->slots_));
  // Running containers are found again, and everything the host holds for containers that do
  // not run is freed, and said.
  service->lifecycle_->RecoverAll();
  // What each container's state was when corrald found it (a start of corrald is no event).
  for (ContainerRecord* record : service->registry_.List()) BaselineContainerEvents(*record);
  return service;
}

Service::Service(sd_event* event, sd_bus* bus, ServiceOptions options)
    : event_(event), bus_(bus), options_(std::move(options)), registry_(options_.paths) {}

Service::~Service() {
  exec_socket_.reset();
  private_socket_.reset();
  DropExecs();
  lifecycle_.reset();
  slots_.clear();
}

absl::Status Service::Publish(sd_bus* bus, std::vector<SlotPtr>* slots) {
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_add_object_vtable(bus, &slot, kManagerPath, kManagerInterface, kManagerVtable, this);
  if (r < 0) return ErrnoError(-r, "publish the manager object");
  slots->emplace_back(slot);
  r = sd_bus_add_fallback_vtable(bus, &slot, kContainerPathPrefix, kContainerInterface, kContainerVtable,
                                 &FindContainer, &registry_);
  if (r < 0) return ErrnoError(-r, "publish the container objects");
  slots->emplace_back(slot);
  r = sd_bus_add_node_enumerator(bus, &slot, kContainerPathPrefix, &EnumerateContainers, &registry_);
  if (r < 0) return ErrnoError(-r, "publish the container list");
  slots->emplace_back(slot);
  r = sd_bus_add_object_manager(bus, &slot, kManagerPath);
  if (r < 0) return ErrnoError(-r, "publish the object manager");
  slots->emplace_back(slot);
  return absl::OkStatus();
}

absl::Status Service::ListenPrivate(const std::string& path) {
  private_socket_ = std::make_unique<PrivateSocket>(
      event_, [this](sd_bus* bus, std::vector<SlotPtr>* slots) { return Publish(bus, slots); },
      [this](sd_bus* bus) { CallerDisconnected(bus); });
  return private_socket_->Listen(path);
}

absl::Status Service::ListenExec(const std::string& path) {
  ASSIGN_OR_RETURN(exec_socket_, ExecSocket::Listen(event_, path, [this](ExecSocketCall call) {
                     ExecFromSocket(std::move(call));
                   }));
  return absl::OkStatus();
}

void Service::PropertiesChanged(const ContainerRecord& record, std::vector<const char*> properties) {
  EmitContainerChanged(bus_, record, std::move(properties));
  LogStateIfChanged(record);  // for `corralctl events --since` (dbus/event_log.h)
}

void Service::Removing(const ContainerRecord& record) {
  sd_bus_emit_object_removed(bus_, ContainerPath(record.config.name).c_str());
}

}  // namespace corral::dbus
