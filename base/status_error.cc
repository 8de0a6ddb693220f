#include "base/status_error.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "caf/make_message.hpp"
#include "caf/message.hpp"
#include "caf/sec.hpp"

namespace trainbus::base {
namespace {

std::string MessageOf(const caf::message& context) {
  if (context.match_elements<std::string>()) {
    return context.get_as<std::string>(0);
  }
  return context.empty() ? std::string() : caf::to_string(context);
}

std::string Render(uint8_t code, const caf::message& context) {
  return absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ": ",
      MessageOf(context));
}

// CAF's own errors: what kind of failure they are to a caller.
absl::StatusCode CodeOfForeign(const caf::error& error) {
  if (error.category() == caf::atom("system") &&
      static_cast<caf::sec>(error.code()) == caf::sec::request_timeout) {
    return absl::StatusCode::kDeadlineExceeded;
  }
  return absl::StatusCode::kUnavailable;
}

std::string ForeignText(const caf::error& error) {
  std::string name;
  if (error.category() == caf::atom("system")) {
    name = caf::to_string(static_cast<caf::sec>(error.code()));
  } else {
    name = absl::StrCat(caf::to_string(error.category()), " error ",
                        error.code());
  }
  std::string context = MessageOf(error.context());
  return context.empty() ? absl::StrCat("caf: ", name)
                         : absl::StrCat("caf: ", name, " (", context, ")");
}

}  // namespace

caf::error ToCafError(const absl::Status& status) {
  if (status.ok()) return caf::error{};
  return caf::error(static_cast<uint8_t>(status.code()), kStatusErrorCategory,
                    caf::make_message(std::string(status.message())));
}

bool IsStatusError(const caf::error& error) {
  return error && error.category() == kStatusErrorCategory;
}

absl::Status ToStatus(const caf::error& error) {
  if (!error) return absl::OkStatus();
  if (IsStatusError(error)) {
    return absl::Status(static_cast<absl::StatusCode>(error.code()),
                        MessageOf(error.context()));
  }
  return absl::Status(CodeOfForeign(error), ForeignText(error));
}

std::string ErrorToString(const caf::error& error) {
  if (!error) return "ok";
  if (IsStatusError(error)) return Render(error.code(), error.context());
  return ForeignText(error);
}

void AddStatusErrors(caf::actor_system_config& cfg) {
  cfg.add_error_category(
      kStatusErrorCategory,
      [](uint8_t code, caf::atom_value, const caf::message& context) {
        return Render(code, context);
      });
}

}  // namespace trainbus::base
