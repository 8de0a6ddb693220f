#include "topology/manifest.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/subprocess.h"
#include "kernels/nn/model.h"
#include "registry/blob_store.h"
#include "report/json_text.h"

namespace trainbus::topology {
namespace {

using report::Json;

// dpkg and git answer in well under a second; a hung one must not hold a run.
constexpr absl::Duration kToolTimeout = absl::Seconds(30);

// ---- JSON ------------------------------------------------------------------

// Reads typed fields of one JSON object, keeping the first problem, so a
// parser reads straight through and checks once at the end.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string where, absl::Status* status)
      : object_(object), where_(std::move(where)), status_(status) {
    if (!object_.is_object()) Fail("", "an object");
  }

  std::string Str(const char* key) {
    const Json* v = Find(key, Json::value_t::string, "a string");
    return v ? v->get<std::string>() : std::string();
  }
  int64_t Int(const char* key) {
    const Json* v = Find(key, Json::value_t::number_integer, "an integer");
    return v ? v->get<int64_t>() : 0;
  }
  uint64_t Uint(const Json& v, const std::string& key) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v >= 0)) {
      Fail(key, "a non-negative integer");
      return 0;
    }
    return v.get<uint64_t>();
  }
  bool Bool(const char* key) {
    const Json* v = Find(key, Json::value_t::boolean, "true or false");
    return v ? v->get<bool>() : false;
  }
  const Json& Object(const char* key) {
    const Json* v = Find(key, Json::value_t::object, "an object");
    return v ? *v : Empty(Json::value_t::object);
  }
  const Json& Array(const char* key) {
    const Json* v = Find(key, Json::value_t::array, "an array");
    return v ? *v : Empty(Json::value_t::array);
  }
  std::string Where(const std::string& key) const {
    return where_.empty() ? key : absl::StrCat(where_, ".", key);
  }

 private:
  const Json* Find(const char* key, Json::value_t type, const char* what) {
    if (!object_.is_object()) return nullptr;
    auto it = object_.find(key);
    // Unsigned integers are integers too.
    const bool ok = it != object_.end() &&
                    (it->type() == type ||
                     (type == Json::value_t::number_integer &&
                      it->is_number_unsigned()));
    if (!ok) {
      Fail(key, what);
      return nullptr;
    }
    return &*it;
  }
  void Fail(const std::string& key, const char* what) {
    if (!status_->ok()) return;
    *status_ = absl::InvalidArgumentError(absl::StrCat(
        "run manifest: '", Where(key), "' must be ", what,
        "; the manifest was written by another trainbus or edited by hand"));
  }
  static const Json& Empty(Json::value_t type) {
    static const Json* object = new Json(Json::object());
    static const Json* array = new Json(Json::array());
    return type == Json::value_t::object ? *object : *array;
  }

  const Json& object_;
  std::string where_;
  absl::Status* status_;
};

Json EnvironmentToJson(const Environment& env) {
  Json packages = Json::object();
  for (const PackageVersion& p : env.packages) packages[p.name] = p.version;
  Json j;
  j["cpu_model"] = env.cpu_model;
  j["highway_target"] = env.highway_target;
  j["kernel_config"] = env.kernel_config;
  j["packages"] = std::move(packages);
  j["packages_note"] = env.packages_note;
  j["source"] = {{"dir", env.source.dir},
                 {"commit", env.source.commit},
                 {"dirty", env.source.dirty},
                 {"note", env.source.note}};
  return j;
}

Environment EnvironmentFromJson(const Json& j, absl::Status* status) {
  FieldReader r(j, "environment", status);
  Environment env;
  env.cpu_model = r.Str("cpu_model");
  env.highway_target = r.Str("highway_target");
  // Optional: manifests written before it was recorded lack it.
  if (j.is_object() && j.contains("kernel_config")) {
    env.kernel_config = r.Str("kernel_config");
  }
  for (const auto& [name, version] : r.Object("packages").items()) {
    env.packages.push_back(
        {name, version.is_string() ? version.get<std::string>()
                                   : std::string(kUnknown)});
  }
  env.packages_note = r.Str("packages_note");
  FieldReader s(r.Object("source"), r.Where("source"), status);
  env.source.dir = s.Str("dir");
  env.source.commit = s.Str("commit");
  env.source.dirty = s.Bool("dirty");
  env.source.note = s.Str("note");
  return env;
}

// ---- The machine -----------------------------------------------------------

std::string CpuModel(const std::string& cpuinfo) {
  std::ifstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return std::string(kUnknown);
}

// The runs of `argv`, or the reason it could not run.
absl::StatusOr<base::ProgramRun> RunTool(const std::vector<std::string>& argv) {
  std::error_code ec;
  if (!std::filesystem::exists(argv[0], ec)) {
    return absl::NotFoundError(absl::StrCat(argv[0], " is not installed"));
  }
  return base::RunProgram(argv, kToolTimeout);
}

// Shared libraries this process has mapped, in both spellings dpkg may know
// them by (Debian's merged /usr: /usr/lib/x/y and /lib/x/y are one file).
std::vector<std::string> LoadedLibraryPaths() {
  std::ifstream in("/proc/self/maps");
  std::set<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find(".so") == std::string::npos) continue;
    if (absl::StartsWith(path, "/usr/lib/")) {
      paths.insert(path);
      paths.insert(path.substr(4));
    } else if (absl::StartsWith(path, "/lib/")) {
      paths.insert(path);
      paths.insert(absl::StrCat("/usr", path));
    }
  }
  return {paths.begin(), paths.end()};
}

// The packages owning `paths` ("libhwy1:amd64: /usr/lib/..." lines; paths
// dpkg does not know are skipped).
std::set<std::string> OwningPackages(const std::string& dpkg_query,
                                     const std::vector<std::string>& paths) {
  std::set<std::string> owners;
  if (paths.empty()) return owners;
  std::vector<std::string> argv = {dpkg_query, "-S"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  absl::StatusOr<base::ProgramRun> run = RunTool(argv);
  if (!run.ok()) return owners;
  for (absl::string_view line : absl::StrSplit(run->output, '\n')) {
    if (absl::StartsWith(line, "dpkg-query:")) continue;
    const size_t sep = line.find(": /");
    if (sep == absl::string_view::npos) continue;
    for (absl::string_view owner : absl::StrSplit(line.substr(0, sep), ", ")) {
      // "diversion by x from: /path" lines name no owner.
      if (absl::StrContains(owner, ' ')) continue;
      owners.insert(std::string(owner.substr(0, owner.find(':'))));
    }
  }
  return owners;
}

void CollectPackages(const EnvironmentOptions& options, Environment* env) {
  std::set<std::string> names(options.packages.begin(),
                              options.packages.end());
  if (names.empty()) {
    names.insert(LinkedPackages().begin(), LinkedPackages().end());
    const std::set<std::string> loaded =
        OwningPackages(options.dpkg_query, LoadedLibraryPaths());
    names.insert(loaded.begin(), loaded.end());
  }
  std::map<std::string, std::string> versions;
  for (const std::string& name : names) versions[name] = std::string(kUnknown);
  std::vector<std::string> argv = {
      options.dpkg_query, "-W",
      "-f=${Package}\t${Version}\t${db:Status-Status}\n"};
  argv.insert(argv.end(), names.begin(), names.end());
  absl::StatusOr<base::ProgramRun> run = RunTool(argv);
  if (!run.ok()) {
    env->packages_note = absl::StrCat(
        "package versions unknown: ", run.status().message(),
        " (not a Debian system?); install dpkg or compare versions by hand");
  } else {
    std::vector<std::string> missing;
    for (absl::string_view line : absl::StrSplit(run->output, '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      if (f.size() != 3 || !versions.count(f[0])) continue;
      if (f[2] == "installed" && !f[1].empty()) versions[f[0]] = f[1];
    }
    for (const auto& [name, version] : versions) {
      if (version == kUnknown) missing.push_back(name);
    }
    if (!missing.empty()) {
      env->packages_note = absl::StrCat(
          "not installed according to dpkg: ", absl::StrJoin(missing, ", "),
          "; run tools/setup.sh");
    }
  }
  for (auto& [name, version] : versions) {
    env->packages.push_back({name, std::move(version)});
  }
}

SourceTree ReadSourceTree(const EnvironmentOptions& options) {
  SourceTree tree;
  tree.commit = std::string(kUnknown);
  tree.dir = options.source_dir;
  if (tree.dir.empty()) {
    const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    std::error_code ec;
    tree.dir = workspace != nullptr && *workspace
                   ? std::string(workspace)
                   : std::filesystem::current_path(ec).string();
  }
  absl::StatusOr<base::ProgramRun> head =
      RunTool({options.git, "-C", tree.dir, "rev-parse", "HEAD"});
  if (!head.ok() || !head->exit.success()) {
    tree.note = absl::StrCat(
        "no git commit: '", tree.dir, "' ",
        head.ok() ? "is not a git work tree" : head.status().message(),
        "; run from the source tree (bazel run does) to record it");
    tree.dir.clear();
    return tree;
  }
  tree.commit = std::string(absl::StripAsciiWhitespace(head->output));
  absl::StatusOr<base::ProgramRun> status =
      RunTool({options.git, "-C", tree.dir, "status", "--porcelain",
               "--untracked-files=no"});
  if (!status.ok() || !status->exit.success()) {
    tree.note = "git status failed; whether the tree was dirty is unknown";
    return tree;
  }
  tree.dirty = !absl::StripAsciiWhitespace(status->output).empty();
  return tree;
}

// ---- Inputs ----------------------------------------------------------------

absl::Status ListFiles(const std::string& reader, const std::string& dir,
                       bool recursive, std::vector<std::string>* paths) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(
        reader, " reads '", dir,
        "', which is not a directory; fix the spec's path (or --data_dir)"));
  }
  std::vector<std::string> found;
  auto add = [&](const fs::directory_entry& e) {
    if (e.is_regular_file(ec)) found.push_back(e.path().string());
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) add(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) add(e);
  }
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot list '", dir, "' for ", reader, ": ", ec.message()));
  }
  std::sort(found.begin(), found.end());
  paths->insert(paths->end(), found.begin(), found.end());
  return absl::OkStatus();
}

absl::StatusOr<InputFile> HashFile(const std::string& source,
                                   const std::string& path) {
  TB_ASSIGN_OR_RETURN(std::string bytes, base::ReadFile(path));
  return InputFile{source, path, registry::BlobStore::Sha256Hex(bytes),
                   static_cast<int64_t>(bytes.size())};
}

}  // namespace

std::string ManifestToJson(const RunManifest& m) {
  Json j = {{"run_id", m.run_id},         {"reproduces", m.reproduces},
            {"state", m.state},           {"error", m.error},
            {"started_ns", m.started_ns}, {"finished_ns", m.finished_ns}};
  j["spec"] = {{"name", m.spec_name},
               {"origin", m.spec_origin},
               {"text", m.spec_text},
               {"args", m.args}};
  j["seeds"] = Json::object();
  for (const auto& [what, seed] : m.seeds) j["seeds"][what] = seed;
  j["inputs"] = Json::array();
  for (const InputFile& f : m.inputs) {
    j["inputs"].push_back({{"source", f.source},
                           {"path", f.path},
                           {"sha256", f.sha256},
                           {"size", f.size}});
  }
  j["environment"] = EnvironmentToJson(m.environment);
  j["checkpoints"] = Json::object();
  for (const ModelCheckpoint& c : m.checkpoints) {
    j["checkpoints"][c.model] = {{"sha256", c.sha256}, {"size", c.size}};
  }
  return report::ToJsonText(j);
}

absl::StatusOr<RunManifest> ParseManifest(absl::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(
        "run manifest is not valid JSON; it is written by `trainbus run`, "
        "re-run the spec to get a new one");
  }
  absl::Status status;
  FieldReader r(j, "", &status);
  RunManifest m;
  m.run_id = r.Int("run_id");
  m.reproduces = r.Int("reproduces");
  m.state = r.Str("state");
  m.error = r.Str("error");
  m.started_ns = r.Int("started_ns");
  m.finished_ns = r.Int("finished_ns");
  FieldReader spec(r.Object("spec"), "spec", &status);
  m.spec_name = spec.Str("name");
  m.spec_origin = spec.Str("origin");
  m.spec_text = spec.Str("text");
  for (const Json& arg : spec.Array("args")) {
    if (arg.is_string()) m.args.push_back(arg.get<std::string>());
  }
  for (const auto& [what, seed] : r.Object("seeds").items()) {
    m.seeds[what] = r.Uint(seed, r.Where(absl::StrCat("seeds.", what)));
  }
  for (const Json& f : r.Array("inputs")) {
    FieldReader in(f, "inputs[]", &status);
    m.inputs.push_back(
        {in.Str("source"), in.Str("path"), in.Str("sha256"), in.Int("size")});
  }
  m.environment = EnvironmentFromJson(r.Object("environment"), &status);
  for (const auto& [model, c] : r.Object("checkpoints").items()) {
    FieldReader cr(c, absl::StrCat("checkpoints.", model), &status);
    m.checkpoints.push_back({model, cr.Str("sha256"), cr.Int("size")});
  }
  TB_RETURN_IF_ERROR(status);
  return m;
}

std::map<std::string, uint64_t> SpecSeeds(const TopologySpec& spec) {
  std::map<std::string, uint64_t> seeds;
  for (const SourceSpec& s : spec.sources) {
    seeds[absl::StrCat("source ", s.name)] = s.seed;
  }
  for (const ModelEntry& m : spec.models) {
    seeds[absl::StrCat("model ", m.name)] = m.spec.seed;
  }
  return seeds;
}

std::string RedactUrlPassword(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return std::string(url);
  const size_t authority = scheme + 3;
  const size_t path = std::min(url.find('/', authority), url.size());
  const size_t at = url.rfind('@', path);
  if (at == absl::string_view::npos || at < authority) return std::string(url);
  const size_t colon = url.find(':', authority);
  if (colon == absl::string_view::npos || colon > at) return std::string(url);
  return absl::StrCat(url.substr(0, colon + 1), "***", url.substr(at));
}

std::vector<std::string> RedactSecrets(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  bool token_next = false;  // "--auth_token T": T is the secret
  for (const std::string& arg : args) {
    if (token_next) {
      out.push_back("***");
      token_next = false;
      continue;
    }
    if (arg == "--auth_token") token_next = true;
    if (absl::StartsWith(arg, "--auth_token=")) {
      out.push_back("--auth_token=***");
      continue;
    }
    out.push_back(RedactUrlPassword(arg));
  }
  return out;
}

absl::StatusOr<std::vector<InputFile>> HashInputs(const TopologySpec& spec) {
  std::vector<InputFile> inputs;
  std::set<std::string> seen;  // two sources may read one directory
  auto add = [&](const std::string& name, const std::string& reader,
                 const std::string& dir, bool recursive) -> absl::Status {
    std::vector<std::string> paths;
    TB_RETURN_IF_ERROR(ListFiles(reader, dir, recursive, &paths));
    for (const std::string& path : paths) {
      if (!seen.insert(path).second) continue;
      TB_ASSIGN_OR_RETURN(InputFile f, HashFile(name, path));
      inputs.push_back(std::move(f));
    }
    return absl::OkStatus();
  };
  for (const SourceSpec& source : spec.sources) {
    if (source.kind == SourceKind::kAmqp) continue;  // no files: a broker
    // An exporting image_dir source writes `dir` from data_dir's test split
    // when it starts (so `dir` may not exist yet): data_dir is its input.
    const bool exports = source.export_images + source.export_broken > 0;
    const bool images = source.kind == SourceKind::kImageDir && !exports;
    TB_RETURN_IF_ERROR(add(source.name,
                           absl::StrCat("source '", source.name, "'"),
                           images ? source.dir : source.data_dir, images));
  }
  if (spec.evaluation.has_value() && !spec.evaluation->data_dir.empty()) {
    TB_RETURN_IF_ERROR(add("evaluation", "the evaluation",
                           spec.evaluation->data_dir, false));
  }
  return inputs;
}

const std::vector<std::string>& LinkedPackages() {
  // //tools:trainbus's deps in third_party/BUILD, by package.
  static const std::vector<std::string>* packages = new std::vector<
      std::string>{"g++",           "libabsl-dev",     "libcaf-dev",
                   "libcpp-httplib-dev", "libhwy-dev", "libjpeg-dev",
                   "libpng-dev",    "libsqlite3-dev",  "libssl-dev",
                   "libtbb-dev",    "libyaml-cpp-dev", "nlohmann-json3-dev",
                   "zlib1g-dev"};
  return *packages;
}

Environment CollectEnvironment(const EnvironmentOptions& options) {
  Environment env;
  env.cpu_model = CpuModel(options.cpuinfo);
  env.highway_target = nn::KernelTargetName();
  env.kernel_config = nn::KernelConfigDescription();
  CollectPackages(options, &env);
  env.source = ReadSourceTree(options);
  return env;
}

absl::StatusOr<RunRecorder> RunRecorder::Begin(registry::Store& store,
                                               RunStart start) {
  if (start.spec == nullptr) {
    return absl::InvalidArgumentError("RunRecorder::Begin needs the spec");
  }
  RunManifest m;
  m.state = std::string(registry::RunStateName(registry::RunState::kRunning));
  m.reproduces = start.reproduces;
  m.started_ns = store.NowNanos();
  m.spec_name = start.spec->name.empty() ? "unnamed" : start.spec->name;
  m.spec_origin = std::move(start.spec_origin);
  m.spec_text = std::move(start.spec_text);
  m.args = RedactSecrets(start.args);
  m.seeds = SpecSeeds(*start.spec);
  TB_ASSIGN_OR_RETURN(m.inputs, HashInputs(*start.spec));
  m.environment = CollectEnvironment(start.environment);
  TB_ASSIGN_OR_RETURN(m.run_id, store.CreateRun(start.project, m.spec_name,
                                                ManifestToJson(m)));
  return RunRecorder(&store, std::move(m));
}

absl::StatusOr<RunRecorder> RunRecorder::Open(const std::string& registry_dir,
                                              RunStart start) {
  registry::StoreOptions options;
  options.root = registry_dir;
  TB_ASSIGN_OR_RETURN(std::unique_ptr<registry::Store> store,
                      registry::Store::Open(options));
  TB_ASSIGN_OR_RETURN(RunRecorder recorder, Begin(*store, std::move(start)));
  recorder.owned_store_ = std::move(store);
  return recorder;
}

absl::StatusOr<RunManifest> RunRecorder::Finish(
    const std::vector<std::pair<std::string, std::string>>& checkpoints,
    const std::string& out_dir) {
  std::vector<registry::DatasetFile> files;
  manifest_.checkpoints.clear();
  for (const auto& [model, bytes] : checkpoints) {
    files.push_back({model, bytes});
    manifest_.checkpoints.push_back(
        {model, registry::BlobStore::Sha256Hex(bytes),
         static_cast<int64_t>(bytes.size())});
  }
  std::sort(manifest_.checkpoints.begin(), manifest_.checkpoints.end(),
            [](const ModelCheckpoint& a, const ModelCheckpoint& b) {
              return a.model < b.model;
            });
  TB_RETURN_IF_ERROR(End(registry::RunState::kFinished, out_dir, files));
  return manifest_;
}

absl::Status RunRecorder::Fail(absl::string_view error,
                               const std::string& out_dir) {
  manifest_.error = std::string(error);
  return End(registry::RunState::kFailed, out_dir, {});
}

absl::Status RunRecorder::End(
    registry::RunState state, const std::string& out_dir,
    const std::vector<registry::DatasetFile>& checkpoints) {
  manifest_.state = std::string(registry::RunStateName(state));
  manifest_.finished_ns = store_->NowNanos();
  const std::string json = ManifestToJson(manifest_);
  TB_RETURN_IF_ERROR(
      store_->FinishRun(manifest_.run_id, state, json, checkpoints).status());
  if (out_dir.empty()) return absl::OkStatus();
  return base::WriteFileAtomically(absl::StrCat(out_dir, "/manifest.json"),
                                   json);
}

absl::StatusOr<RunManifest> LoadManifest(registry::Store& store,
                                         int64_t run_id) {
  TB_ASSIGN_OR_RETURN(registry::RunRecord record, store.GetRun(run_id));
  absl::StatusOr<RunManifest> m = ParseManifest(record.manifest);
  if (!m.ok()) {
    return absl::DataLossError(absl::StrCat("run ", run_id, ": ",
                                            m.status().message()));
  }
  m->run_id = record.id;
  m->state = std::string(registry::RunStateName(record.state));
  return m;
}

}  // namespace trainbus::topology
