// StartSteps: the order steps run and are undone in, what a failed Prepare leaves, the one
// cgroup to clone into. Pure: the steps are fakes.
#include "runtime/start_step.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace corral::runtime {
namespace {

class RecordingStep : public StartStep {
 public:
  RecordingStep(std::string name, std::vector<std::string>* log) : name_(std::move(name)), log_(log) {}
  absl::Status Prepare(ContainerSpec& spec) override {
    log_->push_back("prepare " + name_);
    spec.env.push_back(name_);
    return prepare_error;
  }
  int CloneCgroupFd() const override { return cgroup_fd; }
  absl::Status InParent(const StartedChild& child) override {
    log_->push_back("parent " + name_ + " " + std::to_string(child.pid));
    return parent_error;
  }
  absl::Status Undo() override {
    log_->push_back("undo " + name_);
    return undo_error;
  }
  Phase InParentPhase() const override { return Phase::kNetworkAttach; }

  absl::Status prepare_error;
  absl::Status parent_error;
  absl::Status undo_error;
  int cgroup_fd = -1;

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

TEST(StartStepsTest, RunInOrderAndUndoInReverse) {
  std::vector<std::string> log;
  RecordingStep a("a", &log), b("b", &log);
  StartSteps steps;
  steps.Add(&a);
  steps.Add(&b);
  ContainerSpec spec;
  ASSERT_TRUE(steps.Prepare(spec).ok());
  EXPECT_EQ(spec.env, (std::vector<std::string>{"a", "b"}));
  PhaseTimer timer;
  ASSERT_TRUE(steps.InParent(StartedChild{42, -1, false}, &timer).ok());
  ASSERT_EQ(timer.phases().size(), 2u);
  EXPECT_EQ(timer.phases()[0].first, Phase::kNetworkAttach);
  ASSERT_TRUE(steps.Undo().ok());
  ASSERT_TRUE(steps.Undo().ok());  // nothing left the second time
  EXPECT_EQ(log, (std::vector<std::string>{"prepare a", "prepare b", "parent a 42", "parent b 42", "undo b", "undo a"}));
}

TEST(StartStepsTest, AFailedPrepareUndoesTheStepsBeforeItOnly) {
  std::vector<std::string> log;
  RecordingStep a("a", &log), b("b", &log), c("c", &log);
  b.prepare_error = absl::UnavailableError("no bridge");
  StartSteps steps;
  steps.Add(&a);
  steps.Add(&b);
  steps.Add(&c);
  ContainerSpec spec;
  absl::Status status = steps.Prepare(spec);
  EXPECT_EQ(status.message(), "no bridge");
  EXPECT_EQ(log, (std::vector<std::string>{"prepare a", "prepare b", "undo a"}));
  log.clear();
  ASSERT_TRUE(steps.Undo().ok());
  EXPECT_TRUE(log.empty());
}

TEST(StartStepsTest, AFailingStepInTheParentStopsTheOnesAfterIt) {
  std::vector<std::string> log;
  RecordingStep a("a", &log), b("b", &log);
  a.parent_error = absl::InternalError("no cgroup");
  StartSteps steps;
  steps.Add(&a);
  steps.Add(&b);
  ContainerSpec spec;
  ASSERT_TRUE(steps.Prepare(spec).ok());
  EXPECT_EQ(steps.InParent(StartedChild{7, -1, false}, nullptr).message(), "no cgroup");
  EXPECT_EQ(log.back(), "parent a 7");
}

TEST(StartStepsTest, UndoTriesEveryStepAndReportsTheFirstError) {
  std::vector<std::string> log;
  RecordingStep a("a", &log), b("b", &log);
  a.undo_error = absl::InternalError("a failed");
  b.undo_error = absl::InternalError("b failed");
  StartSteps steps;
  steps.Add(&a);
  steps.Add(&b);
  ContainerSpec spec;
  ASSERT_TRUE(steps.Prepare(spec).ok());
  EXPECT_EQ(steps.Undo().message(), "b failed");
  EXPECT_EQ(log.back(), "undo a");
}

TEST(StartStepsTest, OneCgroupToCloneInto) {
  std::vector<std::string> log;
  RecordingStep a("a", &log), b("b", &log);
  StartSteps steps;
  steps.Add(&a);
  steps.Add(&b);
  int fd = 0;
  ASSERT_TRUE(steps.CloneCgroupFd(&fd).ok());
  EXPECT_EQ(fd, -1);
  b.cgroup_fd = 9;
  ASSERT_TRUE(steps.CloneCgroupFd(&fd).ok());
  EXPECT_EQ(fd, 9);
  a.cgroup_fd = 8;
  EXPECT_FALSE(steps.CloneCgroupFd(&fd).ok());
}

}  // namespace
}  // namespace corral::runtime
