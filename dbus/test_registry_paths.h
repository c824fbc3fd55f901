// For the registry's and the lifecycle's unit tests: a scratch tree under DIR laid out as
// corrald's (containers, run dirs, a busybox image) with a uid pool of the test's own.
#ifndef CORRAL_DBUS_TEST_REGISTRY_PATHS_H_
#define CORRAL_DBUS_TEST_REGISTRY_PATHS_H_

#include <string>

#include "common/files.h"
#include "dbus/registry.h"
#include "gtest/gtest.h"

namespace corral::dbus {

// Fills *paths for DIR and makes what it names; a failure is a test failure.
inline void MakeTestRegistryPaths(const std::string& dir, RegistryPaths* paths) {
  *paths = {dir + "/lib/containers", dir + "/run/containers", dir + "/lib/images"};
  ASSERT_TRUE(MakeDirectories(paths->images_root + "/busybox/rootfs", 0755).ok());
  // A pool of the test's own: two blocks.
  paths->idmap_config = dir + "/idmap.conf";
  ASSERT_TRUE(
      WriteFileAtomically(paths->idmap_config, "range = 1048576 131072\nstate_dir = " + dir + "/lib/idmap\nsubuid =\nsubgid =\n")
          .ok());
}

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_TEST_REGISTRY_PATHS_H_
