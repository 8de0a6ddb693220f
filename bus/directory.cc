#include "bus/directory.h"

#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_error.h"
#include "bus/binding.h"
#include "bus/metrics.h"
#include "bus/resource.h"
#include "caf/all.hpp"

namespace trainbus::bus {
namespace {

struct ResourceEntry {
  resource_actor actor;
  ResourceOptions options;
  bool remote = false;
};

struct BindingEntry {
  binding_actor actor;
  BindingOptions options;
};

struct DirectoryState {
  std::map<std::string, ResourceEntry> resources;
  std::map<std::pair<std::string, std::string>, BindingEntry> bindings;

  static inline const char* name = "trainbus.directory";
};

using Self = directory_actor::stateful_base<DirectoryState>;

caf::error UnknownResource(const std::string& name, const DirectoryState& st) {
  std::vector<std::string> known;
  for (const auto& [n, entry] : st.resources) known.push_back(n);
  return base::ToCafError(absl::NotFoundError(
      absl::StrCat("resource '", name,
                   "' not declared; declare it first or bind to one of [",
                   absl::StrJoin(known, ", "), "]")));
}

// Whether `to` already reaches `from` through bindings; adding from->to
// would then close a cycle.
bool Reaches(const DirectoryState& st, const std::string& start,
             const std::string& goal) {
  std::vector<std::string> stack{start};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string at = std::move(stack.back());
    stack.pop_back();
    if (at == goal) return true;
    if (!seen.insert(at).second) continue;
    for (const auto& [key, entry] : st.bindings) {
      if (key.first == at) stack.push_back(key.second);
    }
  }
  return false;
}

bool SameBinding(const BindingOptions& a, const BindingOptions& b) {
  return a.filter == b.filter && a.policy == b.policy;
}

caf::result<resource_actor> Declare(Self* self, ResourceOptions options) {
  auto& st = self->state;
  auto it = st.resources.find(options.name);
  if (it != st.resources.end()) {
    if (it->second.remote || it->second.options.SameAs(options)) {
      return it->second.actor;
    }
    return base::ToCafError(absl::AlreadyExistsError(
        absl::StrCat("resource '", options.name,
                     "' was already declared with log_dir '",
                     it->second.options.log_dir, "'; declare it the same way "
                     "or choose another name")));
  }
  absl::StatusOr<resource_actor> spawned =
      SpawnResource(self->system(), options);
  if (!spawned.ok()) return base::ToCafError(spawned.status());
  self->link_to(*spawned);  // resources live as long as their directory
  st.resources[options.name] = ResourceEntry{*spawned, options, false};
  return *spawned;
}

caf::result<binding_actor> Bind(Self* self, BindingOptions options) {
  auto& st = self->state;
  auto from = st.resources.find(options.from);
  if (from == st.resources.end()) return UnknownResource(options.from, st);
  auto to = st.resources.find(options.to);
  if (to == st.resources.end()) return UnknownResource(options.to, st);
  const auto key = std::make_pair(options.from, options.to);
  if (auto it = st.bindings.find(key); it != st.bindings.end()) {
    if (SameBinding(it->second.options, options)) return it->second.actor;
    return base::ToCafError(absl::AlreadyExistsError(
        absl::StrCat("binding ", options.Name(), " exists with filter '",
                     FormatFilter(it->second.options.filter), "' and policy ",
                     PolicyName(it->second.options.policy),
                     "; bindings are unique per (from, to)")));
  }
  if (Reaches(st, options.to, options.from)) {
    return base::ToCafError(absl::InvalidArgumentError(
        absl::StrCat("binding ", options.Name(),
                     " would close a cycle: '", options.to, "' already feeds '",
                     options.from, "'")));
  }
  binding_actor binding = SpawnBinding(self->system(), from->second.actor,
                                    to->second.actor, options);
  // Reserve the edge now so a concurrent declare sees it; undo on failure.
  st.bindings[key] = BindingEntry{binding, options};
  self->monitor(binding);
  auto promise = self->make_response_promise<binding_actor>();
  self->request(from->second.actor, caf::infinite, subscribe_atom::value,
                binding, BindingSubscription(options))
      .then(
          [=](uint64_t) mutable { promise.deliver(binding); },
          [=](caf::error& err) mutable {
            self->state.bindings.erase(key);
            self->send_exit(binding, caf::exit_reason::user_shutdown);
            promise.deliver(std::move(err));
          });
  return promise;
}

// The binding's subscription goes first, so that `from` stops waiting for
// it now rather than when the binding's exit is noticed.
bool Unbind(Self* self, const std::string& from, const std::string& to) {
  auto& st = self->state;
  auto it = st.bindings.find(std::make_pair(from, to));
  if (it == st.bindings.end()) return false;
  const binding_actor binding = it->second.actor;
  st.bindings.erase(it);
  if (auto source = st.resources.find(from); source != st.resources.end()) {
    self->send(source->second.actor, unsubscribe_atom::value, binding);
  }
  self->send_exit(binding, caf::exit_reason::user_shutdown);
  return true;
}

caf::result<resource_actor> Lookup(Self* self, const std::string& name) {
  auto it = self->state.resources.find(name);
  if (it == self->state.resources.end()) {
    return UnknownResource(name, self->state);
  }
  return it->second.actor;
}

caf::result<resource_actor> Attach(Self* self, const std::string& name,
                                   resource_actor actor) {
  auto& st = self->state;
  if (!actor) {
    return base::ToCafError(absl::UnavailableError(
        absl::StrCat("cannot attach '", name, "': no actor")));
  }
  auto it = st.resources.find(name);
  if (it != st.resources.end()) {
    if (it->second.actor == actor) return actor;
    return base::ToCafError(absl::AlreadyExistsError(absl::StrCat(
        "resource '", name, "' is already declared on this node")));
  }
  ResourceOptions options;
  options.name = name;
  st.resources[name] = ResourceEntry{actor, options, true};
  // A resource on a dead node is gone: forget it so lookups say so.
  self->monitor(actor);
  return actor;
}

TopologyDescription Describe(Self* self) {
  TopologyDescription d;
  for (const auto& [name, entry] : self->state.resources) {
    d.resources.push_back({name, entry.options.durable(), entry.remote});
  }
  for (const auto& [key, entry] : self->state.bindings) {
    d.bindings.push_back(entry.options);
  }
  return d;
}

// Asks every local resource for its metrics and replies with all of them.
caf::result<std::vector<ResourceMetrics>> CollectMetrics(Self* self) {
  struct Collect {
    std::vector<ResourceMetrics> got;
    size_t outstanding = 0;
  };
  auto promise = self->make_response_promise<std::vector<ResourceMetrics>>();
  auto collect = std::make_shared<Collect>();
  for (const auto& [name, entry] : self->state.resources) {
    if (!entry.remote) ++collect->outstanding;
  }
  if (collect->outstanding == 0) {
    promise.deliver(std::vector<ResourceMetrics>{});
    return promise;
  }
  auto finish_one = [=]() mutable {
    if (--collect->outstanding == 0) promise.deliver(collect->got);
  };
  for (const auto& [name, entry] : self->state.resources) {
    if (entry.remote) continue;
    self->request(entry.actor, caf::infinite, metrics_atom::value)
        .then([=](ResourceMetrics& m) mutable {
                collect->got.push_back(std::move(m));
                finish_one();
              },
              [=](caf::error&) mutable { finish_one(); });
  }
  return promise;
}

directory_actor::behavior_type DirectoryActor(Self* self) {
  // A resource on a dead node is forgotten, and so is a binding that ended
  // (it quits when either of its resources goes away), so the same binding
  // can be made again once the resource is back.
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& res = self->state.resources;
    for (auto it = res.begin(); it != res.end();) {
      it = it->second.actor.address() == down.source ? res.erase(it) : ++it;
    }
    auto& bindings = self->state.bindings;
    for (auto it = bindings.begin(); it != bindings.end();) {
      it = it->second.actor.address() == down.source ? bindings.erase(it)
                                                      : ++it;
    }
  });
  return {
      [=](declare_atom, ResourceOptions& options) {
        return Declare(self, std::move(options));
      },
      [=](bind_atom, BindingOptions& options) {
        return Bind(self, std::move(options));
      },
      [=](unbind_atom, const std::string& from, const std::string& to) {
        return Unbind(self, from, to);
      },
      [=](lookup_atom, const std::string& name) { return Lookup(self, name); },
      [=](attach_atom, const std::string& name, resource_actor& actor) {
        return Attach(self, name, std::move(actor));
      },
      [=](describe_atom) { return Describe(self); },
      [=](metrics_atom) { return CollectMetrics(self); },
  };
}

std::string DotId(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string TopologyDescription::ToDot() const {
  std::string out = "digraph trainbus {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const Resource& r : resources) {
    absl::StrAppend(&out, "  ", DotId(r.name), " [label=", DotId(r.name),
                    r.durable ? ", peripheries=2" : "",
                    r.remote ? ", style=dashed" : "", "];\n");
  }
  for (const BindingOptions& b : bindings) {
    absl::StrAppend(&out, "  ", DotId(b.from), " -> ", DotId(b.to),
                    " [label=", DotId(FormatFilter(b.filter) + " / " +
                                      PolicyName(b.policy)),
                    "];\n");
  }
  return out + "}\n";
}

std::string TopologyDescription::ToText() const {
  std::string out;
  for (const Resource& r : resources) {
    absl::StrAppend(&out, "[", r.name, "]", r.durable ? " durable" : "",
                    r.remote ? " remote" : "", "\n");
    for (const BindingOptions& b : bindings) {
      if (b.from != r.name) continue;
      absl::StrAppend(&out, "  --", FormatFilter(b.filter), "/",
                      PolicyName(b.policy), "--> [", b.to, "]\n");
    }
  }
  return out;
}

directory_actor SpawnDirectory(caf::actor_system& sys) {
  return sys.spawn(DirectoryActor);
}

}  // namespace trainbus::bus
