// The supervisor's side of exec requests, for what corrald would never send: each is refused
// on the request's own report socket and starts nothing.
#include "dbus/supervisor/exec.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "runtime/attach_wire.h"
#include "runtime/child_error.h"

namespace corral::dbus {
namespace {

class ExecRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    corrald_.reset(pair[0]);
    supervisor_.reset(pair[1]);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    report_ours_.reset(pair[0]);
    report_theirs_.reset(pair[1]);
    null_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(null_.valid());
  }

  // Sends `message` with stdio and the report socket, or only `count` of those four fds.
  void Send(const std::string& message, size_t count = 4) {
    int fds[4] = {null_.get(), null_.get(), null_.get(), report_theirs_.get()};
    // With fewer fds, the report socket is still the last one passed.
    if (count < 4 && count > 0) fds[count - 1] = report_theirs_.get();
    ASSERT_EQ(SendWithFds(corrald_.get(), message.data(), message.size(), fds, count), 0);
    report_theirs_.reset();  // as corrald does: only the supervisor's copy is left
  }

  // The one record the supervisor reported, and that the socket then ended (nothing started,
  // nothing else holds it).
  std::string ReportedStep() {
    runtime::ChildError record;
    EXPECT_EQ(::recv(report_ours_.get(), &record, sizeof(record), MSG_DONTWAIT), static_cast<ssize_t>(sizeof(record)));
    char byte;
    EXPECT_EQ(::recv(report_ours_.get(), &byte, 1, MSG_DONTWAIT), 0) << "the report socket is still held";
    return record.step;
  }

  static std::string ValidRequest() {
    runtime::AttachSpec spec;
    spec.command = {"/bin/true"};
    return *runtime::EncodeAttachSpec(spec);
  }

  UniqueFd corrald_, supervisor_, report_ours_, report_theirs_, null_;
};

TEST_F(ExecRequestTest, GarbageIsRefused) {
  Send("not a request");
  EXPECT_TRUE(ServeExecRequest(supervisor_.get(), -1, -1));
  EXPECT_EQ(ReportedStep(), "decode the exec request");
}

TEST_F(ExecRequestTest, MissingFdsAreRefused) {
  Send(ValidRequest(), 2);
  EXPECT_TRUE(ServeExecRequest(supervisor_.get(), -1, -1));
  EXPECT_EQ(ReportedStep(), "read the exec request");
}

TEST_F(ExecRequestTest, WithoutThePayloadCgroupNothingStarts) {
  Send(ValidRequest());
  EXPECT_TRUE(ServeExecRequest(supervisor_.get(), -1, /*payload_cgroup=*/-1));
  EXPECT_EQ(ReportedStep(), "open the container's payload cgroup");
}

TEST_F(ExecRequestTest, ABadContainerPidfdIsAnErrorNotAFork) {
  Send(ValidRequest());
  // Any directory stands in for the payload; the leader's pidfd is not one.
  UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_TRUE(ServeExecRequest(supervisor_.get(), null_.get(), dir.get()));
  EXPECT_EQ(ReportedStep(), "start the exec in the supervisor");
}

TEST_F(ExecRequestTest, CorraldGoneEndsTheRequests) {
  corrald_.reset();
  EXPECT_FALSE(ServeExecRequest(supervisor_.get(), -1, -1));
}

TEST_F(ExecRequestTest, NothingQueuedIsNoError) {
  ASSERT_EQ(::fcntl(supervisor_.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_TRUE(ServeExecRequest(supervisor_.get(), -1, -1));
}

}  // namespace
}  // namespace corral::dbus
