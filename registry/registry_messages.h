// The registry actor's interface: atoms, message structs (with inspect() so
// they cross the middleman) and the typed handle.
//
//   caf::actor_system_config cfg;
//   trainbus::registry::AddRegistryMessageTypes(cfg);  // both ends
//   cfg.load<caf::io::middleman>();
//   ...
//   self->request(registry, caf::infinite, claim_atom::value,
//                 std::string("runner-1"), int64_t{30'000'000'000})
//       .receive([](const ClaimReply& r) { ... }, [](caf::error& e) { ... });
//
// Errors come back as caf::error made by base::ToCafError (code: the
// absl::StatusCode, context: the message); base::ToStatus turns them back.
#ifndef TRAINBUS_REGISTRY_REGISTRY_MESSAGES_H_
#define TRAINBUS_REGISTRY_REGISTRY_MESSAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "registry/records.h"
#include "caf/all.hpp"

namespace trainbus::registry {

// ---- Atoms (CAF 0.17: at most 10 characters) ------------------------------
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using fail_atom = caf::atom_constant<caf::atom("failtask")>;
using create_task_atom = caf::atom_constant<caf::atom("createtask")>;
using unfinished_atom = caf::atom_constant<caf::atom("unfinished")>;
using list_tasks_atom = caf::atom_constant<caf::atom("listtasks")>;
using save_model_atom = caf::atom_constant<caf::atom("savemodel")>;
using find_models_atom = caf::atom_constant<caf::atom("findmodels")>;
using load_model_atom = caf::atom_constant<caf::atom("loadmodel")>;
using set_alias_atom = caf::atom_constant<caf::atom("setalias")>;
using append_logs_atom = caf::atom_constant<caf::atom("appendlogs")>;
using query_logs_atom = caf::atom_constant<caf::atom("querylogs")>;

// ---- Message structs ------------------------------------------------------
struct ClaimReply {
  bool has_task = false;
  Task task;
};

struct FinishRequest {
  int64_t task_id = 0;
  std::string runner;
  KeyValues results;
  std::string model_name;
  int64_t model_version = 0;
};

struct SaveModelRequest {
  std::string project;
  std::string name;
  std::string arch;
  std::string checkpoint;  // bytes
  KeyValues kv;
};

struct ModelBlob {
  ModelRecord model;
  std::string checkpoint;  // bytes, verified against the sha256
};

struct TaskList {
  std::vector<Task> tasks;
};
struct ModelList {
  std::vector<ModelRecord> models;
};
struct LogList {
  std::vector<LogEntry> entries;
};

// ---- The typed interface ---------------------------------------------------
// Durations are nanoseconds. Requests reply with an error (see above) when
// the store fails.
using registry_actor = caf::typed_actor<
    // runner id, lease -> the claimed task, if any
    caf::replies_to<claim_atom, std::string, int64_t>::with<ClaimReply>,
    // task id, runner id -> true (error: lease lost)
    caf::replies_to<heartbeat_atom, int64_t, std::string>::with<bool>,
    caf::replies_to<finish_atom, FinishRequest>::with<bool>,
    // task id, runner id, error text, retry
    caf::replies_to<fail_atom, int64_t, std::string, std::string,
                    bool>::with<bool>,
    caf::replies_to<create_task_atom, TaskSpec>::with<int64_t>,
    // -> number of pending or running tasks
    caf::replies_to<unfinished_atom>::with<int64_t>,
    caf::replies_to<list_tasks_atom, Query>::with<TaskList>,
    // -> the new version
    caf::replies_to<save_model_atom, SaveModelRequest>::with<int64_t>,
    caf::replies_to<find_models_atom, Query>::with<ModelList>,
    // project, "name[:version|@alias]"
    caf::replies_to<load_model_atom, std::string, std::string>::with<ModelBlob>,
    // project, name, alias, version
    caf::replies_to<set_alias_atom, std::string, std::string, std::string,
                    int64_t>::with<bool>,
    // -> number of entries appended (one transaction)
    caf::replies_to<append_logs_atom, LogList>::with<int64_t>,
    caf::replies_to<query_logs_atom, Query>::with<LogList>>;

// Registers every message type above (and the status error category) with
// `cfg`.
// Call it on both sides of a middleman connection before creating the
// actor_system.
void AddRegistryMessageTypes(caf::actor_system_config& cfg);

// ---- inspect() overloads ----------------------------------------------------
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, BlobRef& x) {
  return f(caf::meta::type_name("trainbus.registry.BlobRef"), x.name, x.sha256,
           x.size);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelRecord& x) {
  return f(caf::meta::type_name("trainbus.registry.ModelRecord"), x.id,
           x.project, x.name, x.version, x.time_ns, x.arch, x.checkpoint, x.kv,
           x.aliases);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LogEntry& x) {
  return f(caf::meta::type_name("trainbus.registry.LogEntry"), x.id, x.project,
           x.kind, x.model, x.model_version, x.step, x.time_ns, x.metrics);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskSpec& x) {
  return f(caf::meta::type_name("trainbus.registry.TaskSpec"), x.project,
           x.name, x.experiment, x.hyperparameters, x.result_keys,
           x.max_attempts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Task& x) {
  return f(caf::meta::type_name("trainbus.registry.Task"), x.id, x.project,
           x.name, x.experiment, x.hyperparameters, x.result_keys, x.state,
           x.attempts, x.max_attempts, x.runner, x.lease_expiry_ns,
           x.created_ns, x.updated_ns, x.error, x.results, x.model_name,
           x.model_version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Query& x) {
  return f(caf::meta::type_name("trainbus.registry.Query"), x.filter, x.sort,
           x.limit);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ClaimReply& x) {
  return f(caf::meta::type_name("trainbus.registry.ClaimReply"), x.has_task,
           x.task);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, FinishRequest& x) {
  return f(caf::meta::type_name("trainbus.registry.FinishRequest"), x.task_id,
           x.runner, x.results, x.model_name, x.model_version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SaveModelRequest& x) {
  return f(caf::meta::type_name("trainbus.registry.SaveModelRequest"),
           x.project, x.name, x.arch, x.checkpoint, x.kv);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelBlob& x) {
  return f(caf::meta::type_name("trainbus.registry.ModelBlob"), x.model,
           x.checkpoint);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TaskList& x) {
  return f(caf::meta::type_name("trainbus.registry.TaskList"), x.tasks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ModelList& x) {
  return f(caf::meta::type_name("trainbus.registry.ModelList"), x.models);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LogList& x) {
  return f(caf::meta::type_name("trainbus.registry.LogList"), x.entries);
}

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_REGISTRY_MESSAGES_H_
