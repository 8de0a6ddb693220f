#include "report/json_text.h"

namespace trainbus::report {

std::string ToJsonText(const Json& value) {
  return value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                    nlohmann::json::error_handler_t::replace);
}

}  // namespace trainbus::report
