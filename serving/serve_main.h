// `trainbus serve`: loads a registry model's versions and serves them over
// TF Serving's REST API (serving/server.h: hot swap, batching, replicas,
// /metrics) until SIGINT or SIGTERM. The watcher's changes go to `err`.
//
//   trainbus serve --registry_dir=DIR --model=fashion/mlp --port=8501
#ifndef TRAINBUS_SERVING_SERVE_MAIN_H_
#define TRAINBUS_SERVING_SERVE_MAIN_H_

#include <ostream>
#include <string>
#include <vector>

namespace trainbus::serving {

// args: the arguments after `serve`. Returns the exit code: 0 after a
// signal, 1 when the model cannot be loaded or the port bound, 2 for bad
// flags. Prints "serving ... on http://HOST:PORT" once requests are
// accepted.
int ServeMain(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_SERVE_MAIN_H_
