#include "topology/local_cluster.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/subprocess.h"
#include "bus/cluster_certs.h"
#include "topology/placement.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  std::string name;
  base::Subprocess process;
  bool open = true;
};

// Reads `child`'s lines (echoed) until it prints "LISTENING host:port".
std::string AwaitListening(Child& child, Clock::time_point deadline,
                           std::ostream& out) {
  while (Clock::now() < deadline) {
    const double left =
        std::chrono::duration<double>(deadline - Clock::now()).count();
    absl::StatusOr<std::string> line =
        child.process.ReadLine(absl::Seconds(std::max(0.0, left)));
    if (!line.ok()) return "";
    out << "[" << child.name << "] " << *line << std::endl;
    if (absl::StartsWith(*line, "LISTENING ")) return line->substr(10);
  }
  return "";
}

// Echoes everyone's lines until all have closed their output or the
// deadline passes.
void Interleave(std::vector<Child>& children, Clock::time_point deadline,
                std::ostream& out) {
  size_t open = children.size();
  while (open > 0 && Clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (const Child& c : children) {
      if (c.open) fds.push_back({c.process.stdout_fd(), POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 1000);
    for (Child& c : children) {
      if (!c.open) continue;
      std::vector<std::string> lines;
      c.open = c.process.ReadAvailable(&lines);
      for (const std::string& l : lines) {
        out << "[" << c.name << "] " << l << "\n";
      }
      if (!c.open) --open;
    }
    out << std::flush;
  }
}

// The TLS flag every child gets: --insecure, or --tls_dir with the given
// directory or a new one made here for the hub and `nodes`.
absl::StatusOr<std::string> TlsFlag(const LocalClusterOptions& options,
                                    const std::vector<std::string>& nodes,
                                    std::ostream& out) {
  if (options.insecure) return std::string("--insecure");
  if (!options.tls_dir.empty()) return "--tls_dir=" + options.tls_dir;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp",
                                 "/trainbus-cluster-certs.XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", dir));
  }
  TB_RETURN_IF_ERROR(bus::MakeClusterCerts(dir, nodes).status());
  out << "local cluster: TLS with a new CA; certificates for the hub and "
      << absl::StrJoin(nodes, ", ") << " in " << dir << std::endl;
  return "--tls_dir=" + dir;
}

}  // namespace

std::string SelfExecutable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  return std::string(path, static_cast<size_t>(n));
}

int RunLocalCluster(const LocalClusterOptions& options, std::ostream& out) {
  absl::StatusOr<TopologySpec> spec = LoadSpecFile(options.spec_path);
  if (!spec.ok()) {
    out << "local cluster: " << spec.status().message() << std::endl;
    return 2;
  }
  // Every node that has a part, at a placeholder address: Place names them.
  NodeAddresses placeholders;
  for (const NodeSpec& n : spec->nodes) placeholders[n.name] = "127.0.0.1:1";
  absl::StatusOr<Placement> placement = Place(*spec, placeholders);
  if (!placement.ok()) {
    out << "local cluster: " << placement.status().message() << std::endl;
    return 2;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(
      static_cast<int64_t>(options.timeout_s * 1000));
  std::vector<Child> children;
  auto spawn = [&](std::string name, const std::vector<std::string>& argv) {
    absl::StatusOr<base::Subprocess> p =
        base::Subprocess::Spawn(argv, base::OutputPiped());
    if (!p.ok()) {
      out << "local cluster: " << p.status().message() << std::endl;
      return false;
    }
    children.push_back({std::move(name), *std::move(p)});
    return true;
  };
  std::vector<std::string> names;
  for (const auto& [name, unused] : placement->addresses()) {
    names.push_back(name);
  }
  absl::StatusOr<std::string> tls = TlsFlag(options, names, out);
  if (!tls.ok()) {
    out << "local cluster: " << tls.status().message() << std::endl;
    return 1;
  }
  std::vector<std::string> nodes;
  for (const std::string& name : names) {
    if (!spawn(name, {options.program, "node", "--name=" + name,
                      "--listen=127.0.0.1:0", *tls,
                      absl::StrCat("--timeout_s=", options.timeout_s)})) {
      return 1;
    }
    const std::string address = AwaitListening(children.back(), deadline, out);
    if (address.empty()) {
      out << "local cluster: node " << name
          << " did not start; see its output above" << std::endl;
      return 1;
    }
    nodes.push_back(absl::StrCat(name, "=", address));
  }
  std::vector<std::string> hub = {
      options.program, "run", options.spec_path,
      "--nodes=" + absl::StrJoin(nodes, ","), *tls,
      absl::StrCat("--timeout_s=", options.timeout_s)};
  hub.insert(hub.end(), options.run_args.begin(), options.run_args.end());
  out << "local cluster: hub + " << nodes.size() << " node(s) on 127.0.0.1"
      << std::endl;
  if (!spawn("hub", hub)) return 1;
  Interleave(children, deadline, out);

  int failures = 0;
  out << "\nlocal cluster summary:";
  for (Child& c : children) {
    if (c.open) c.process.Kill();
    // A child whose output ended gets a few seconds to exit.
    absl::StatusOr<base::ExitStatus> exit =
        c.process.WaitOrKill(absl::Seconds(10));
    failures += !exit.ok() || !exit->success();
    out << " " << c.name << " exit "
        << (exit.ok() ? absl::StrCat(exit->ShellCode())
                      : "killed, it hung after its output")
        << (c.open ? " (killed after the timeout)" : "") << ";";
  }
  out << (failures == 0 ? " all processes finished cleanly"
                        : " some processes failed")
      << std::endl;
  return failures == 0 ? 0 : 1;
}

}  // namespace trainbus::topology
