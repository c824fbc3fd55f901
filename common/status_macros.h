// Return-if-error helpers for absl::Status / absl::StatusOr, in the style of sandbox2.
#ifndef CORRAL_COMMON_STATUS_MACROS_H_
#define CORRAL_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CORRAL_CONCAT_INNER_(a, b) a##b
#define CORRAL_CONCAT_(a, b) CORRAL_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the current function when not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status corral_status_ = (expr);        \
    if (!corral_status_.ok()) return corral_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares/assigns the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CORRAL_ASSIGN_OR_RETURN_IMPL_(CORRAL_CONCAT_(corral_statusor_, __LINE__), lhs, expr)

#define CORRAL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // CORRAL_COMMON_STATUS_MACROS_H_
