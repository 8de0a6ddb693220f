// The run manifest: what decides a topology run's final weights, recorded in
// the registry (table `runs`) and as manifest.json beside the report, so that
// `trainbus reproduce RUN_ID` can run it again and explain any difference.
//
//   TB_ASSIGN_OR_RETURN(RunRecorder recorder,
//                       RunRecorder::Begin(*store, {spec_text, path, args,
//                                                   &effective_spec}));
//   ... run ...
//   TB_ASSIGN_OR_RETURN(RunManifest m,
//                       recorder.Finish({{"model1", checkpoint}}, out_dir));
//
// A manifest holds: the spec text and the run's flags; the seeds; the sha256
// of every input file; the Debian versions of the packages the binary links;
// the CPU model and the Highway target the kernels dispatch to; the source
// tree's git commit and whether it was dirty; and each model's final
// checkpoint sha256. Nothing here fails a run for a fact it cannot learn: an
// unknown value is "unknown" with the reason beside it.
//
// The git commit is read at run time from the source tree ($BUILD_WORKSPACE_
// DIRECTORY under `bazel run`, which rebuilds first, else the working
// directory), not stamped at build time: stamping relinks the binary on every
// commit and `bazel run` does not stamp by default.
#ifndef TRAINBUS_TOPOLOGY_MANIFEST_H_
#define TRAINBUS_TOPOLOGY_MANIFEST_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "registry/store.h"
#include "topology/spec.h"

namespace trainbus::topology {

inline constexpr absl::string_view kUnknown = "unknown";

// A file a source reads.
struct InputFile {
  std::string source;  // the spec's source name
  std::string path;
  std::string sha256;
  int64_t size = 0;
};

struct PackageVersion {
  std::string name;
  std::string version;  // kUnknown when dpkg does not know it
};

// Where the code came from.
struct SourceTree {
  std::string dir;     // the git work tree read, or empty
  std::string commit;  // 40 hex digits, or kUnknown
  bool dirty = false;  // uncommitted changes (untracked files not counted)
  std::string note;    // why commit is unknown, else empty
};

// The machine and the build a run ran on.
struct Environment {
  std::string cpu_model;       // /proc/cpuinfo "model name", or kUnknown
  std::string highway_target;  // nn::KernelTargetName(), e.g. "AVX2"
  std::string kernel_config;   // nn::KernelConfigDescription(); empty in
                               // manifests written before it was recorded
  std::vector<PackageVersion> packages;  // sorted by name
  std::string packages_note;   // why versions are unknown, else empty
  SourceTree source;
};

struct ModelCheckpoint {
  std::string model;
  std::string sha256;
  int64_t size = 0;
};

struct RunManifest {
  int64_t run_id = 0;
  int64_t reproduces = 0;  // the run this one re-ran, or 0
  std::string state;       // registry::RunStateName
  std::string error;       // why a failed run failed
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  std::string spec_name;
  std::string spec_origin;  // the path it was read from
  std::string spec_text;    // as written
  std::vector<std::string> args;  // the run's flags (secrets redacted)
  // "source <name>" and "model <name>": the seed each one used.
  std::map<std::string, uint64_t> seeds;
  std::vector<InputFile> inputs;  // in spec order, then path order
  Environment environment;
  std::vector<ModelCheckpoint> checkpoints;  // in model name order
};

std::string ManifestToJson(const RunManifest& manifest);
// InvalidArgument naming the field that is missing or of the wrong type.
absl::StatusOr<RunManifest> ParseManifest(absl::string_view json);

// "amqp://user:***@host:5672/v": any URL's password replaced (text that is
// no URL with a password comes back as it was).
std::string RedactUrlPassword(absl::string_view url);
// The run's flags as a manifest records them: every URL's password and the
// value of --auth_token replaced by "***" (a reproduction must be given
// them again).
std::vector<std::string> RedactSecrets(const std::vector<std::string>& args);

// The seeds of every source and model, as the run will use them.
std::map<std::string, uint64_t> SpecSeeds(const TopologySpec& spec);
// Every file the spec's sources read: the regular files of an IDX source's
// data_dir, and every regular file under an image directory (recursively),
// then the evaluation's data_dir, hashed. A missing directory is an error
// naming the source.
absl::StatusOr<std::vector<InputFile>> HashInputs(const TopologySpec& spec);

// The packages of tools/setup.sh that the trainbus binary builds against.
// tools:setup_packages_test-style check: manifest_test reads setup.sh.
const std::vector<std::string>& LinkedPackages();

struct EnvironmentOptions {
  std::string dpkg_query = "/usr/bin/dpkg-query";
  std::string git = "/usr/bin/git";
  // Empty: $BUILD_WORKSPACE_DIRECTORY, else the working directory.
  std::string source_dir;
  std::string cpuinfo = "/proc/cpuinfo";
  // Empty: LinkedPackages(), plus the packages owning the shared libraries
  // this process has loaded.
  std::vector<std::string> packages;
};
// Never fails: what cannot be learnt is kUnknown, with the reason in a note.
Environment CollectEnvironment(const EnvironmentOptions& options = {});

// What Begin needs to know about a run before it starts.
struct RunStart {
  std::string spec_text;
  std::string spec_origin;
  std::vector<std::string> args;
  const TopologySpec* spec = nullptr;  // after the flags' overrides
  int64_t reproduces = 0;
  std::string project;  // registry project; empty: the default
  EnvironmentOptions environment;
};

// Records one run: a `runs` row when it starts, the final manifest (and the
// checkpoints as blobs) when it ends. The store must outlive the recorder.
class RunRecorder {
 public:
  static absl::StatusOr<RunRecorder> Begin(registry::Store& store,
                                           RunStart start);
  // Opens (creating if missing) the registry at `registry_dir` (empty:
  // Store::DefaultRoot()) and begins there; the recorder keeps it open.
  static absl::StatusOr<RunRecorder> Open(const std::string& registry_dir,
                                          RunStart start);

  int64_t run_id() const { return manifest_.run_id; }
  const std::string& registry_root() const { return store_->root(); }
  const RunManifest& manifest() const { return manifest_; }

  // The run ended well: stores each model's checkpoint (model name, bytes),
  // completes the manifest and writes it to `out_dir`/manifest.json when
  // `out_dir` is not empty.
  absl::StatusOr<RunManifest> Finish(
      const std::vector<std::pair<std::string, std::string>>& checkpoints,
      const std::string& out_dir);
  // The run failed: records why (the manifest keeps everything else).
  absl::Status Fail(absl::string_view error, const std::string& out_dir);

 private:
  RunRecorder(registry::Store* store, RunManifest manifest)
      : store_(store), manifest_(std::move(manifest)) {}
  absl::Status End(registry::RunState state, const std::string& out_dir,
                   const std::vector<registry::DatasetFile>& checkpoints);

  std::unique_ptr<registry::Store> owned_store_;  // set by Open
  registry::Store* store_;
  RunManifest manifest_;
};

// The manifest of run `run_id` in `store`, with the registry's state.
absl::StatusOr<RunManifest> LoadManifest(registry::Store& store,
                                         int64_t run_id);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_MANIFEST_H_
