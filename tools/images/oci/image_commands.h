// The corralctl verbs for OCI images, on the local store (oci_store.h): `image import NAME
// oci:...|oci-archive:...|docker-archive:...`, `image pull REF [--name N] [--tls-verify=false]`
// (skopeo copy docker://REF to an OCI layout, then import), `images`/`image ls [--json]`,
// `image rm NAME`. Each returns the exit status and prints what it did.
#ifndef CORRAL_TOOLS_IMAGES_OCI_IMAGE_COMMANDS_H_
#define CORRAL_TOOLS_IMAGES_OCI_IMAGE_COMMANDS_H_

#include <string>
#include <vector>

namespace corral::images::oci {

int ImportCommand(const std::string& images_dir, const std::string& name, const std::string& source);
int PullCommand(const std::string& images_dir, const std::vector<std::string>& args);
int ListCommand(const std::string& images_dir, const std::vector<std::string>& args);
int RemoveCommand(const std::string& images_dir, const std::vector<std::string>& args);

// The image name `pull` gives REF when --name is not: its last path part without tag or
// digest ("127.0.0.1:5000/lib/busybox:1.36" -> "busybox"), made a valid name.
std::string DefaultPullName(const std::string& ref);

}  // namespace corral::images::oci

#endif  // CORRAL_TOOLS_IMAGES_OCI_IMAGE_COMMANDS_H_
