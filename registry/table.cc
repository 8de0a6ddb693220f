#include "registry/table.h"

#include <algorithm>

#include "absl/strings/strip.h"

namespace trainbus::registry {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(rows_[0].size(), 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size() && i < width.size()) {
        line += std::string(width[i] - row[i].size() + 2, ' ');
      }
    }
    out << absl::StripTrailingAsciiWhitespace(line) << "\n";
  }
  if (rows_.size() == 1) out << "(none)\n";
}

}  // namespace trainbus::registry
