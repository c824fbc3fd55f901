#include "dbus/bus_errors.h"

#include "dbus/error_kind.h"
#include "dbus/interface.h"
#include "gtest/gtest.h"

namespace corral::dbus {
namespace {

TEST(BusErrorsTest, KindsNameTheirErrors) {
  EXPECT_STREQ(ErrorNameFor(NoSuchContainerError("web")), kErrorNoSuchContainer);
  EXPECT_STREQ(ErrorNameFor(NotRunningError("container web is stopped")), kErrorNotRunning);
  EXPECT_STREQ(ErrorNameFor(AlreadyRunningError("container web is running already")), kErrorAlreadyRunning);
  EXPECT_STREQ(ErrorNameFor(InvalidArgumentKindError("signal 0 does not exist")), kErrorInvalidArgument);
  EXPECT_STREQ(ErrorNameFor(FailedError("limits not saved")), kErrorFailed);
  EXPECT_STREQ(ErrorNameFor(WithErrorKind(absl::UnknownError("x"), ErrorKind::kAccessDenied)), kErrorAccessDenied);
  EXPECT_STREQ(ErrorNameFor(WithErrorKind(absl::UnknownError("x"), ErrorKind::kInvalidName)), kErrorInvalidName);
  EXPECT_STREQ(ErrorNameFor(WithErrorKind(absl::UnknownError("x"), ErrorKind::kContainerExists)),
               kErrorContainerExists);
}

TEST(BusErrorsTest, TheMessageNeverDecides) {
  // A missing image whose message happens to say "no container" is still an argument problem,
  // and a missing container reworded is still NoSuchContainer.
  EXPECT_STREQ(ErrorNameFor(absl::NotFoundError("no container image at /x")), kErrorInvalidArgument);
  EXPECT_STREQ(ErrorNameFor(WithErrorKind(absl::NotFoundError("unknown: web"), ErrorKind::kNoSuchContainer)),
               kErrorNoSuchContainer);
  EXPECT_EQ(NoSuchContainerError("web").message(), "no container named web");
}

TEST(BusErrorsTest, CodesWithoutKind) {
  EXPECT_STREQ(ErrorNameFor(absl::NotFoundError("image busybox: no root file system")), kErrorInvalidArgument);
  EXPECT_STREQ(ErrorNameFor(absl::AlreadyExistsError("container web exists")), kErrorContainerExists);
  EXPECT_STREQ(ErrorNameFor(absl::InvalidArgumentError("bad")), kErrorInvalidArgument);
  EXPECT_STREQ(ErrorNameFor(absl::OutOfRangeError("big")), kErrorInvalidArgument);
  EXPECT_STREQ(ErrorNameFor(absl::PermissionDeniedError("execve: EACCES")), kErrorFailed);
  EXPECT_STREQ(ErrorNameFor(absl::InternalError("x")), kErrorFailed);
  EXPECT_STREQ(ErrorNameFor(absl::DeadlineExceededError("x")), kErrorFailed);
}

TEST(BusErrorsTest, KindSurvivesAndOkStaysOk) {
  absl::Status s = NotRunningError("x");
  EXPECT_EQ(ErrorKindOf(s), ErrorKind::kNotRunning);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_EQ(ErrorKindOf(absl::InternalError("x")), ErrorKind::kUnspecified);
  EXPECT_TRUE(WithErrorKind(absl::OkStatus(), ErrorKind::kFailed).ok());
}

TEST(BusErrorsTest, SetErrorMakesTheMessageValidUtf8) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  EXPECT_LT(StatusError(&error, NotRunningError("bad \xff byte")), 0);
  EXPECT_STREQ(error.name, kErrorNotRunning);
  EXPECT_NE(std::string(error.message).find("bad "), std::string::npos);
  EXPECT_EQ(std::string(error.message).find('\xff'), std::string::npos);
  sd_bus_error_free(&error);
}

}  // namespace
}  // namespace corral::dbus
