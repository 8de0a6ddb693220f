// For tests of a subcommand's main: run it in process and keep what it said.
//
//   base::CliRun run = base::RunCli(ServeMain, {"--model=x"});
//   EXPECT_EQ(run.code, 2) << run.err;
#ifndef TRAINBUS_BASE_CLI_TESTING_H_
#define TRAINBUS_BASE_CLI_TESTING_H_

#include <sstream>
#include <string>
#include <vector>

namespace trainbus::base {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// `main` has the shape of every trainbus subcommand:
// int(const std::vector<std::string>& args, std::ostream& out, std::ostream& err).
template <class Main>
CliRun RunCli(Main main, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CliRun run;
  run.code = main(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_CLI_TESTING_H_
