// Aligned text tables for the registry's command-line output: columns are
// as wide as their widest cell, two spaces apart, no trailing blanks.
//
//   Table table({"NAME", "VERSION"});
//   table.Add({"mlp", "3"});
//   table.Print(std::cout);  // "(none)" under the header when empty
#ifndef TRAINBUS_REGISTRY_TABLE_H_
#define TRAINBUS_REGISTRY_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace trainbus::registry {

class Table {
 public:
  explicit Table(std::vector<std::string> header)
      : rows_({std::move(header)}) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_TABLE_H_
