#include "topology/manifest.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "base/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// sha256("abc"), FIPS 180-2's example.
constexpr char kAbcSha256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

RunManifest FullManifest() {
  RunManifest m;
  m.run_id = 7;
  m.reproduces = 3;
  m.state = "finished";
  m.started_ns = 1;
  m.finished_ns = 2;
  m.spec_name = "tiny";
  m.spec_origin = "experiments/tiny.yaml";
  m.spec_text = "name: tiny\n";
  m.args = {"--epochs=2", "--seed=5"};
  m.seeds = {{"model m1", 2}, {"source train", 18446744073709551615ull}};
  m.inputs = {{"train", "/d/train-images-idx3-ubyte", kAbcSha256, 3}};
  m.environment.cpu_model = "Some CPU @ 2.0GHz";
  m.environment.highway_target = "AVX2";
  m.environment.packages = {{"libcaf-dev", "0.17.6-2"},
                            {"libhwy-dev", std::string(kUnknown)}};
  m.environment.packages_note = "not installed according to dpkg: libhwy-dev";
  m.environment.source = {"/src", std::string(40, 'a'), true, ""};
  m.checkpoints = {{"m1", kAbcSha256, 3}};
  return m;
}

TEST(ManifestJson, RoundTripsEveryField) {
  const RunManifest m = FullManifest();
  absl::StatusOr<RunManifest> back = ParseManifest(ManifestToJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ManifestToJson(*back), ManifestToJson(m));
  EXPECT_EQ(back->seeds, m.seeds);
  EXPECT_EQ(back->args, m.args);
  EXPECT_TRUE(back->environment.source.dirty);
  ASSERT_EQ(back->inputs.size(), 1u);
  EXPECT_EQ(back->inputs[0].path, "/d/train-images-idx3-ubyte");
  ASSERT_EQ(back->checkpoints.size(), 1u);
  EXPECT_EQ(back->checkpoints[0].sha256, kAbcSha256);
}

TEST(ManifestJson, BadManifestsNameTheProblem) {
  EXPECT_THAT(ParseManifest("{not json").status().message(),
              HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseManifest("[1, 2]").status().message(),
              HasSubstr("must be an object"));
  std::string json = ManifestToJson(FullManifest());
  const std::string typed = absl::StrReplaceAll(
      json, {{"\"highway_target\":\"AVX2\"", "\"highway_target\":3"}});
  absl::Status s = ParseManifest(typed).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("environment.highway_target"));
  const std::string missing =
      absl::StrReplaceAll(json, {{"\"spec\":", "\"spek\":"}});
  EXPECT_THAT(ParseManifest(missing).status().message(), HasSubstr("'spec'"));
  const std::string negative = absl::StrReplaceAll(
      json, {{"\"model m1\":2", "\"model m1\":-2"}});
  EXPECT_THAT(ParseManifest(negative).status().message(),
              HasSubstr("seeds.model m1"));
}

TEST(HashInputs, HashesIdxDirectoriesAndImageTreesAndNamesMissingOnes) {
  const std::string dir = base::NewTestDir("inputs");
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/idx/b-labels", "abc").ok());
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/idx/a-images", "xyz").ok());
  ASSERT_TRUE(base::CreateDirectories(dir + "/idx/not-read").ok());
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/pics/cat/1.png", "abc").ok());
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/eval/t10k", "e").ok());
  absl::StatusOr<TopologySpec> spec = ParseSpec(absl::StrCat(
      "resources: [{name: in}]\nsources:\n"
      "  - {name: gen, kind: idx, data_dir: ", dir, "/idx, output: in}\n"
      "  - {name: replay, kind: test_replay, data_dir: ", dir,
      "/idx, output: in}\n"
      "  - {name: pics, kind: image_dir, dir: ", dir, "/pics, output: in}\n"
      "evaluation: {data_dir: ", dir, "/eval}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::vector<InputFile>> inputs = HashInputs(*spec);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->size(), 4u);  // the replay's directory is the generator's
  EXPECT_EQ((*inputs)[0].path, dir + "/idx/a-images");
  EXPECT_EQ((*inputs)[1].path, dir + "/idx/b-labels");
  EXPECT_EQ((*inputs)[1].sha256, kAbcSha256);
  EXPECT_EQ((*inputs)[1].size, 3);
  EXPECT_EQ((*inputs)[2].path, dir + "/pics/cat/1.png");
  EXPECT_EQ((*inputs)[2].source, "pics");
  EXPECT_EQ((*inputs)[3].path, dir + "/eval/t10k");
  EXPECT_EQ((*inputs)[3].source, "evaluation");

  spec->sources[2].dir = dir + "/nowhere";
  absl::Status s = HashInputs(*spec).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("source 'pics'"));
  EXPECT_THAT(s.message(), HasSubstr("/nowhere"));
}

TEST(HashInputs, AnExportingImageSourceHashesTheDataItExportsFrom) {
  // production_routing with a fresh --export_dir: the export creates `dir`
  // when the source starts, after the manifest is begun.
  const std::string dir = base::NewTestDir("export_inputs");
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/idx/t10k-images", "abc").ok());
  absl::StatusOr<TopologySpec> spec = ParseSpec(absl::StrCat(
      "resources: [{name: in}]\nsources:\n"
      "  - {name: pics, kind: image_dir, dir: ", dir, "/not-yet, data_dir: ",
      dir, "/idx, export_images: 10, output: in}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::vector<InputFile>> inputs = HashInputs(*spec);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ((*inputs)[0].path, dir + "/idx/t10k-images");
  EXPECT_EQ((*inputs)[0].source, "pics");
  EXPECT_EQ((*inputs)[0].sha256, kAbcSha256);
}

TEST(RedactSecrets, HidesUrlPasswordsAndTheAuthToken) {
  EXPECT_EQ(RedactUrlPassword("amqp://user:secret@host:5672/%2f"),
            "amqp://user:***@host:5672/%2f");
  EXPECT_EQ(RedactUrlPassword("--amqp_url=amqp://u:p@h"),
            "--amqp_url=amqp://u:***@h");
  for (const char* same : {"amqp://user@host:5672/v", "amqp://host:5672",
                           "--epochs=2", "/data/a:b@c", ""}) {
    EXPECT_EQ(RedactUrlPassword(same), same);
  }
  EXPECT_EQ(RedactSecrets({"--amqp_url=amqp://guest:pw@127.0.0.1:5673/",
                           "--auth_token=T0k", "--auth_token", "T1k",
                           "--epochs=1"}),
            (std::vector<std::string>{"--amqp_url=amqp://guest:***@127.0.0.1:5673/",
                                      "--auth_token=***", "--auth_token",
                                      "***", "--epochs=1"}));
}

TEST(SpecSeeds, NamesEverySourceAndModel) {
  absl::StatusOr<TopologySpec> spec = ParseSpec(
      "resources: [{name: in}, {name: metrics}]\n"
      "sources: [{name: gen, kind: idx, data_dir: /d, output: in, seed: 9}]\n"
      "models: [{name: m, spec: 'softmax:seed=4', input: in, "
      "output: metrics}]\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(SpecSeeds(*spec), (std::map<std::string, uint64_t>{
                                  {"model m", 4}, {"source gen", 9}}));
}

// Every package the manifest asks dpkg about is one setup.sh installs.
TEST(LinkedPackages, AreInSetupShList) {
  absl::StatusOr<std::string> setup = base::ReadFile("tools/setup.sh");
  ASSERT_TRUE(setup.ok()) << setup.status();
  const size_t begin = setup->find("packages=(");
  const size_t end = setup->find(")", begin);
  ASSERT_NE(begin, std::string::npos);
  std::set<std::string> listed;
  for (absl::string_view word : absl::StrSplit(
           setup->substr(begin + 10, end - begin - 10),
           absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    listed.insert(std::string(word));
  }
  for (const std::string& p : LinkedPackages()) {
    EXPECT_TRUE(listed.count(p)) << p << " is not in tools/setup.sh";
  }
}

TEST(CollectEnvironment, ReadsCpuTargetAndPackageVersions) {
  const std::string dir = base::NewTestDir("env");
  ASSERT_TRUE(base::WriteFileAtomically(
                  dir + "/cpuinfo",
                  "processor\t: 0\nmodel name\t: Test CPU 9000\nflags : x\n")
                  .ok());
  EnvironmentOptions options;
  options.cpuinfo = dir + "/cpuinfo";
  options.source_dir = dir;
  options.packages = {"libcaf-dev", "no-such-package-xyz"};
  Environment env = CollectEnvironment(options);
  EXPECT_EQ(env.cpu_model, "Test CPU 9000");
  EXPECT_EQ(env.highway_target, nn::KernelTargetName());
  EXPECT_EQ(env.kernel_config, nn::KernelConfigDescription());
  ASSERT_EQ(env.packages.size(), 2u);
  EXPECT_EQ(env.packages[0].name, "libcaf-dev");
  EXPECT_THAT(env.packages[0].version, HasSubstr("0.17"));  // the build needs it
  EXPECT_EQ(env.packages[1].version, kUnknown);
  EXPECT_THAT(env.packages_note, HasSubstr("no-such-package-xyz"));
  // Not a git work tree: unknown, and why.
  EXPECT_EQ(env.source.commit, kUnknown);
  EXPECT_THAT(env.source.note, HasSubstr("not a git work tree"));
}

TEST(CollectEnvironment, WithoutDpkgEveryVersionIsUnknownWithTheReason) {
  EnvironmentOptions options;
  options.dpkg_query = "/nonexistent/dpkg-query";
  options.git = "/nonexistent/git";
  options.cpuinfo = "/nonexistent/cpuinfo";
  Environment env = CollectEnvironment(options);
  EXPECT_EQ(env.cpu_model, kUnknown);
  ASSERT_EQ(env.packages.size(), LinkedPackages().size());
  for (const PackageVersion& p : env.packages) EXPECT_EQ(p.version, kUnknown);
  EXPECT_THAT(env.packages_note, HasSubstr("/nonexistent/dpkg-query"));
  EXPECT_THAT(env.packages_note, HasSubstr("not installed"));
  EXPECT_EQ(env.source.commit, kUnknown);
  EXPECT_THAT(env.source.note, HasSubstr("/nonexistent/git"));
}

// By default: setup.sh's packages plus those owning the loaded libraries.
TEST(CollectEnvironment, DefaultPackagesIncludeTheLoadedLibrariesOwners) {
  Environment env = CollectEnvironment();
  std::map<std::string, std::string> versions;
  for (const PackageVersion& p : env.packages) versions[p.name] = p.version;
  for (const std::string& p : LinkedPackages()) EXPECT_TRUE(versions.count(p)) << p;
  ASSERT_TRUE(versions.count("libc6")) << "libc.so.6 is loaded by every test";
  EXPECT_NE(versions["libc6"], kUnknown);
}

// Runs git in `dir`; fails the test when it fails.
void Git(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/git", "-C", dir, "-c",
                                   "user.name=t", "-c", "user.email=t@t"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<base::ProgramRun> run =
      base::RunProgram(argv, absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(run->exit.success()) << run->output;
}

TEST(CollectEnvironment, RecordsTheGitCommitAndWhetherTheTreeIsDirty) {
  // setup.sh does not install git (the manifest records "unknown" without
  // it, which the test above covers); a source checkout has it.
  if (!std::filesystem::exists("/usr/bin/git")) {
    GTEST_SKIP() << "/usr/bin/git is not installed";
  }
  const std::string dir = base::NewTestDir("repo");
  Git(dir, {"init", "-q"});
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/a.txt", "one").ok());
  Git(dir, {"add", "a.txt"});
  Git(dir, {"commit", "-q", "-m", "first"});
  EnvironmentOptions options;
  options.source_dir = dir;
  options.packages = {"libcaf-dev"};
  Environment clean = CollectEnvironment(options);
  EXPECT_EQ(clean.source.commit.size(), 40u) << clean.source.note;
  EXPECT_FALSE(clean.source.dirty);
  EXPECT_EQ(clean.source.dir, dir);
  // An untracked file does not count; a changed tracked file does.
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/new.txt", "x").ok());
  EXPECT_FALSE(CollectEnvironment(options).source.dirty);
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/a.txt", "two").ok());
  Environment dirty = CollectEnvironment(options);
  EXPECT_TRUE(dirty.source.dirty);
  EXPECT_EQ(dirty.source.commit, clean.source.commit);
}

TEST(RunRecorder, RecordsTheRunInTheRegistryAndBesideTheReport) {
  const std::string dir = base::NewTestDir("recorder");
  ASSERT_TRUE(base::WriteFileAtomically(dir + "/data/train", "abc").ok());
  const std::string text = absl::StrCat(
      "name: tiny\nresources: [{name: in}]\nsources: [{name: gen, kind: idx, "
      "data_dir: ", dir, "/data, output: in, seed: 5}]\n");
  absl::StatusOr<TopologySpec> spec = ParseSpec(text);
  ASSERT_TRUE(spec.ok()) << spec.status();
  registry::StoreOptions store_options;
  store_options.root = dir + "/registry";
  auto store = registry::Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();

  RunStart start;
  start.spec_text = text;
  start.spec_origin = "tiny.yaml";
  start.args = {"--epochs=1", "--amqp_url=amqp://bus:s3cret@10.0.0.1/%2f"};
  start.spec = &*spec;
  start.environment.packages = {"libcaf-dev"};
  absl::StatusOr<RunRecorder> recorder = RunRecorder::Begin(**store, start);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  EXPECT_EQ(recorder->run_id(), 1);
  EXPECT_EQ(LoadManifest(**store, 1)->state, "running");

  absl::StatusOr<RunManifest> done =
      recorder->Finish({{"m2", "bytes2"}, {"m1", "abc"}}, dir + "/out");
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->checkpoints.size(), 2u);
  EXPECT_EQ(done->checkpoints[0].model, "m1");
  EXPECT_EQ(done->checkpoints[0].sha256, kAbcSha256);

  absl::StatusOr<RunManifest> stored = LoadManifest(**store, 1);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state, "finished");
  EXPECT_EQ(stored->spec_text, text);
  // The broker's password is nowhere in what the registry keeps.
  EXPECT_EQ(stored->args,
            (std::vector<std::string>{
                "--epochs=1", "--amqp_url=amqp://bus:***@10.0.0.1/%2f"}));
  EXPECT_EQ(stored->seeds.at("source gen"), 5u);
  ASSERT_EQ(stored->inputs.size(), 1u);
  EXPECT_EQ(stored->inputs[0].sha256, kAbcSha256);
  EXPECT_EQ(stored->environment.highway_target, nn::KernelTargetName());
  EXPECT_EQ(stored->environment.kernel_config, nn::KernelConfigDescription());
  EXPECT_EQ(*(*store)->LoadBlob(stored->checkpoints[1].sha256), "bytes2");
  absl::StatusOr<std::string> beside = base::ReadFile(dir + "/out/manifest.json");
  ASSERT_TRUE(beside.ok()) << beside.status();
  EXPECT_EQ(*beside, ManifestToJson(*stored));
  EXPECT_THAT(*beside, Not(HasSubstr("s3cret")));
}

TEST(RunRecorder, AFailedRunKeepsItsReason) {
  const std::string dir = base::NewTestDir("failed");
  absl::StatusOr<TopologySpec> spec = ParseSpec("resources: [{name: in}]\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  registry::StoreOptions store_options;
  store_options.root = dir;
  auto store = registry::Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  RunStart start;
  start.spec = &*spec;
  start.environment.packages = {"libcaf-dev"};
  absl::StatusOr<RunRecorder> recorder = RunRecorder::Begin(**store, start);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  ASSERT_TRUE(recorder->Fail("model m1 diverged", "").ok());
  absl::StatusOr<RunManifest> m = LoadManifest(**store, recorder->run_id());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->state, "failed");
  EXPECT_EQ(m->error, "model m1 diverged");
  EXPECT_EQ(m->spec_name, "unnamed");
}

}  // namespace
}  // namespace trainbus::topology
