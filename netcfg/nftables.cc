#include "netcfg/nftables.h"

#include <dlfcn.h>
#include <nftables/libnftables.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace corral::netcfg {

// The few libnftables entry points corral uses, resolved from the dlopen'ed library.
struct Nftables::Library {
  void* handle = nullptr;
  decltype(&nft_ctx_new) ctx_new = nullptr;
  decltype(&nft_ctx_free) ctx_free = nullptr;
  decltype(&nft_ctx_buffer_output) buffer_output = nullptr;
  decltype(&nft_ctx_buffer_error) buffer_error = nullptr;
  decltype(&nft_ctx_get_output_buffer) get_output = nullptr;
  decltype(&nft_ctx_get_error_buffer) get_error = nullptr;
  decltype(&nft_run_cmd_from_buffer) run = nullptr;

  ~Library() {
    if (handle != nullptr) ::dlclose(handle);
  }
};

namespace {

template <typename F>
bool Resolve(void* handle, const char* name, F* out) {
  *out = reinterpret_cast<F>(::dlsym(handle, name));
  return *out != nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Nftables>> Nftables::Open() {
  auto library = std::make_unique<Library>();
  library->handle = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library->handle == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("load libnftables (install the libnftables1 package): ", ::dlerror()));
  }
  if (!Resolve(library->handle, "nft_ctx_new", &library->ctx_new) ||
      !Resolve(library->handle, "nft_ctx_free", &library->ctx_free) ||
      !Resolve(library->handle, "nft_ctx_buffer_output", &library->buffer_output) ||
      !Resolve(library->handle, "nft_ctx_buffer_error", &library->buffer_error) ||
      !Resolve(library->handle, "nft_ctx_get_output_buffer", &library->get_output) ||
      !Resolve(library->handle, "nft_ctx_get_error_buffer", &library->get_error) ||
      !Resolve(library->handle, "nft_run_cmd_from_buffer", &library->run)) {
    return absl::FailedPreconditionError(absl::StrCat("load libnftables: ", ::dlerror()));
  }
  nft_ctx* context = library->ctx_new(NFT_CTX_DEFAULT);
  if (context == nullptr) return absl::InternalError("create an nftables context");
  library->buffer_output(context);
  library->buffer_error(context);
  return std::unique_ptr<Nftables>(new Nftables(std::move(library), context));
}

Nftables::Nftables(std::unique_ptr<Library> library, void* context)
    : library_(std::move(library)), context_(context) {}

Nftables::~Nftables() { library_->ctx_free(static_cast<nft_ctx*>(context_)); }

absl::StatusOr<std::string> Nftables::Query(absl::string_view commands, absl::string_view step) {
  auto* context = static_cast<nft_ctx*>(context_);
  std::string text(commands);
  int rc = library_->run(context, text.c_str());
  // Reading a buffer hands it over and starts a new one, so both are read every time.
  std::string output = library_->get_output(context);
  std::string error = library_->get_error(context);
  if (rc != 0) {
    absl::string_view first_line = absl::StripAsciiWhitespace(error);
    first_line = first_line.substr(0, first_line.find('\n'));
    return absl::FailedPreconditionError(absl::StrCat(step, ": ", first_line.empty() ? "nft failed" : first_line));
  }
  return output;
}

absl::Status Nftables::Run(absl::string_view commands, absl::string_view step) {
  return Query(commands, step).status();
}

}  // namespace corral::netcfg
