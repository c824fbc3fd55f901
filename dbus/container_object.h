// The org.corral1.Container objects, one per container at /org/corral1/container/<escaped
// name>: their vtable (properties only), found in the registry by path, enumerated, and their
// PropertiesChanged.
#ifndef CORRAL_DBUS_CONTAINER_OBJECT_H_
#define CORRAL_DBUS_CONTAINER_OBJECT_H_

#include <systemd/sd-bus.h>

#include <string>
#include <vector>

#include "dbus/registry.h"

namespace corral::dbus {

// The properties; the object's userdata is its ContainerRecord (FindContainer).
extern const sd_bus_vtable kContainerVtable[];

// The object path of container `name` (sd_bus_path_encode).
std::string ContainerPath(const std::string& name);

// sd-bus's fallback find and node enumerator; their userdata is the Registry.
int FindContainer(sd_bus* bus, const char* path, const char* interface, void* userdata, void** found,
                  sd_bus_error* error);
int EnumerateContainers(sd_bus* bus, const char* prefix, void* userdata, char*** nodes, sd_bus_error* error);

// PropertiesChanged for `properties` of `record`'s object on `bus`.
void EmitContainerChanged(sd_bus* bus, const ContainerRecord& record, std::vector<const char*> properties);

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CONTAINER_OBJECT_H_
