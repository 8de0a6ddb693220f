#include "bus/errors.h"

#include "caf/sec.hpp"

namespace trainbus::bus {

const char* ErrcName(Errc code) {
  switch (code) {
    case Errc::kUnknownResource: return "unknown_resource";
    case Errc::kBindingCycle: return "binding_cycle";
    case Errc::kConflict: return "conflict";
    case Errc::kInvalidArgument: return "invalid_argument";
    case Errc::kLogError: return "log_error";
    case Errc::kUnavailable: return "unavailable";
  }
  return "unknown";
}

namespace {

std::string ContextText(const caf::error& err) {
  const caf::message& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    return ctx.get_as<std::string>(0);
  }
  return ctx.empty() ? std::string() : to_string(ctx);
}

}  // namespace

std::string ErrorToString(const caf::error& err) {
  if (!err) return "ok";
  std::string name;
  if (err.category() == kErrorCategory) {
    name = ErrcName(static_cast<Errc>(err.code()));
  } else if (err.category() == caf::atom("system")) {
    name = to_string(static_cast<caf::sec>(err.code()));
  } else {
    name = to_string(err.category()) + ":" + std::to_string(err.code());
  }
  std::string ctx = ContextText(err);
  return ctx.empty() ? name : name + ": " + ctx;
}

absl::Status ToStatus(const caf::error& err) {
  if (!err) return absl::OkStatus();
  std::string text = ErrorToString(err);
  if (err.category() != kErrorCategory) return absl::UnavailableError(text);
  switch (static_cast<Errc>(err.code())) {
    case Errc::kUnknownResource: return absl::NotFoundError(text);
    case Errc::kBindingCycle:
    case Errc::kInvalidArgument: return absl::InvalidArgumentError(text);
    case Errc::kConflict: return absl::AlreadyExistsError(text);
    case Errc::kLogError: return absl::DataLossError(text);
    case Errc::kUnavailable: return absl::UnavailableError(text);
  }
  return absl::UnknownError(text);
}

}  // namespace trainbus::bus
