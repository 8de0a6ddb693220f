// `trainbus validate SPEC` and `trainbus describe SPEC [--format=table|dot]`.
//
//   return trainbus::topology::ValidateMain(args, std::cout, std::cerr);
//
// Both exit 0 on success, 2 for a bad command line or an invalid spec (every
// error printed, one per line, as FILE:LINE:COLUMN: message) and 1 when the
// file cannot be read.
#ifndef TRAINBUS_TOPOLOGY_CLI_H_
#define TRAINBUS_TOPOLOGY_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace trainbus::topology {

// `args` are the words after the command name.
int ValidateMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);
int DescribeMain(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_CLI_H_
