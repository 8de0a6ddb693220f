#include "topology/spec.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "bus/filter.h"
#include "yaml-cpp/anchor.h"
#include "yaml-cpp/emitterstyle.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"
#include "yaml-cpp/yaml.h"

namespace trainbus::topology {
namespace {

using Errors = std::vector<SpecError>;

Location At(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

Location At(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Where the documents of a YAML text start, and their first nodes (the
// parser's other events are not needed).
class DocumentStarts : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;  // of its first token ('---' when there is one)
    YAML::Mark node;   // of its first node; null when it has none
  };
  std::vector<Document> docs;

  void OnDocumentStart(const YAML::Mark& mark) override {
    docs.push_back({mark, YAML::Mark::null_mark()});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(m);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (!docs.empty() && docs.back().node.is_null()) docs.back().node = mark;
  }
};

// The one YAML document of `text`, or an error. Not YAML::LoadAll: on a token
// no node can start with (a ',' outside brackets) yaml-cpp 0.7's parser
// reports an empty document without consuming the token, so LoadAll loops
// forever, allocating (yaml-cpp issue 1040, fixed after 0.7; found by
// //fuzz:topology_spec_fuzzer). So at most three documents are counted, and
// one that starts where the one before it did is that stuck parser. Throws
// what yaml-cpp throws for a syntax error.
std::optional<YAML::Node> LoadOneDocument(const std::string& text,
                                           Errors* errors) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  const std::vector<DocumentStarts::Document>& docs = starts.docs;
  while (docs.size() < 3 && parser.HandleNextDocument(starts)) {
    const size_t n = docs.size();
    if (n >= 2 && docs[n - 1].start.pos == docs[n - 2].start.pos) {
      errors->push_back({At(docs[n - 1].start),
                         "not valid YAML: no value can start here (a ',' "
                         "outside [] or {}?)"});
      return std::nullopt;
    }
  }
  if (docs.size() > 1) {
    const YAML::Mark& at = docs[1].node.is_null() ? docs[1].start : docs[1].node;
    errors->push_back({At(at),
                       "the file holds more than one YAML document (---); a "
                       "spec is one"});
    return std::nullopt;
  }
  YAML::Node doc = YAML::Load(text);
  if (docs.empty() || doc.IsNull()) {
    errors->push_back(
        {{}, "the spec is empty; it must be a mapping with at least 'resources'"});
    return std::nullopt;
  }
  return doc;
}

// Names end up in metrics, file names and DOT ids: keep them plain.
bool ValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-' || c == '.' || c == '/';
  });
}

// One mapping of the spec (the root, a resource, a binding's filter ...):
// the typed getters record an error, with the value's location, and return
// the default when a value is missing or wrong.
class Fields {
 public:
  Fields(const YAML::Node& map, std::string what, Errors* errors)
      : what_(std::move(what)), where_(At(map)), errors_(errors) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first, "a key must be a plain string");
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (!seen.insert(key).second) {
        Error(it->first, absl::StrCat("key '", key, "' is given twice"));
        continue;
      }
      entries_.push_back({key, it->first, it->second});
    }
  }

  // Reports every key not in `accepted`, listing the accepted ones.
  void Check(const std::vector<std::string>& accepted) {
    for (const Entry& e : entries_) {
      if (std::find(accepted.begin(), accepted.end(), e.key) !=
          accepted.end()) {
        continue;
      }
      Error(e.key_node,
            absl::StrCat("unknown key '", e.key,
                         "'; accepted keys: ", absl::StrJoin(accepted, ", ")));
    }
  }

  void set_what(std::string what) { what_ = std::move(what); }
  const std::string& what() const { return what_; }
  Location where() const { return where_; }

  const YAML::Node* Find(const std::string& key) const {
    for (const Entry& e : entries_) {
      if (e.key == key) return &e.value;
    }
    return nullptr;
  }
  bool Has(const std::string& key) const { return Find(key) != nullptr; }

  // A value that must be there: nullptr (and an error) when it is not.
  const YAML::Node* Require(const std::string& key) {
    const YAML::Node* value = Find(key);
    if (value == nullptr) {
      errors_->push_back(
          {where_, absl::StrCat(what_, ": missing required key '", key, "'")});
    }
    return value;
  }

  std::string String(const std::string& key, bool required,
                     std::string fallback = "") {
    const YAML::Node* value = required ? Require(key) : Find(key);
    if (value == nullptr) return fallback;
    if (!value->IsScalar()) {
      Error(*value, absl::StrCat("'", key, "' must be a string"));
      return fallback;
    }
    return value->Scalar();
  }

  // A name (of this component or one it refers to).
  std::string Name(const std::string& key, bool required) {
    const YAML::Node* value = required ? Require(key) : Find(key);
    if (value == nullptr) return "";
    std::string name = String(key, false);
    if (value->IsScalar() && !ValidName(name)) {
      Error(*value, absl::StrCat("'", key, "' is '", name,
                                 "'; a name is letters, digits and _-./"));
      return "";
    }
    return name;
  }

  uint64_t Uint(const std::string& key, uint64_t fallback, uint64_t min,
                uint64_t max) {
    const YAML::Node* value = Find(key);
    if (value == nullptr) return fallback;
    uint64_t out = 0;
    if (!value->IsScalar() || !absl::SimpleAtoi(value->Scalar(), &out) ||
        out < min || out > max) {
      Error(*value, absl::StrCat("'", key, "' must be an integer in [", min,
                                 ", ", max, "]", Shown(*value)));
      return fallback;
    }
    return out;
  }

  double NonNegative(const std::string& key, double fallback) {
    const YAML::Node* value = Find(key);
    if (value == nullptr) return fallback;
    double out = 0;
    if (!value->IsScalar() || !absl::SimpleAtod(value->Scalar(), &out) ||
        !std::isfinite(out) || out < 0) {
      Error(*value, absl::StrCat("'", key, "' must be a finite number >= 0",
                                 Shown(*value)));
      return fallback;
    }
    return out;
  }

  bool Bool(const std::string& key, bool fallback) {
    const YAML::Node* value = Find(key);
    if (value == nullptr) return fallback;
    const std::string text =
        value->IsScalar() ? absl::AsciiStrToLower(value->Scalar()) : "";
    if (text == "true" || text == "yes") return true;
    if (text == "false" || text == "no") return false;
    Error(*value,
          absl::StrCat("'", key, "' must be true or false", Shown(*value)));
    return fallback;
  }

  // A list of names; one name alone is a list of one.
  std::vector<std::string> Names(const std::string& key) {
    const YAML::Node* value = Require(key);
    std::vector<std::string> out;
    if (value == nullptr) return out;
    if (value->IsScalar()) return {Name(key, true)};
    if (!value->IsSequence() || value->size() == 0) {
      Error(*value, absl::StrCat("'", key,
                                 "' must be a name or a non-empty "
                                 "list of names"));
      return out;
    }
    for (const YAML::Node& item : *value) {
      if (!item.IsScalar() || !ValidName(item.Scalar())) {
        Error(item, absl::StrCat("'", key,
                                 "' lists something that is not a "
                                 "name (letters, digits and _-./)"));
        continue;
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  void Error(const YAML::Node& at, const std::string& message) {
    errors_->push_back({At(at), absl::StrCat(what_, ": ", message)});
  }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };

  // ", not 'x'" for a scalar; nothing for a list or a map.
  static std::string Shown(const YAML::Node& value) {
    if (!value.IsScalar()) return "";
    std::string text = value.Scalar().substr(0, 40);
    return absl::StrCat(", not '", text,
                        value.Scalar().size() > 40 ? "...'" : "'");
  }

  std::string what_;
  Location where_;
  Errors* errors_;
  std::vector<Entry> entries_;
};

// A value parsed from the scalar at `at`: kept in *out, or its error
// recorded there.
template <class T>
void Keep(Fields& f, const YAML::Node& at, absl::StatusOr<T> parsed, T* out) {
  if (parsed.ok()) {
    *out = *std::move(parsed);
  } else {
    f.Error(at, std::string(parsed.status().message()));
  }
}

// A kind of source or consumer: its name in the spec and the keys it
// accepts besides the common ones.
template <class Kind>
struct KindRow {
  Kind kind;
  const char* name;
  std::vector<std::string> keys;
};

const std::vector<KindRow<SourceKind>>& SourceKinds() {
  static const auto* kinds = new std::vector<KindRow<SourceKind>>{
      {SourceKind::kIdxGenerator,
       "idx",
       {"data_dir", "dataset", "epochs", "seed", "limit", "labels", "batch"}},
      {SourceKind::kTestReplay,
       "test_replay",
       {"data_dir", "dataset", "limit", "first"}},
      {SourceKind::kImageDir,
       "image_dir",
       {"dir", "dead_letter", "data_dir", "export_images", "export_broken"}},
  };
  return *kinds;
}

const std::vector<KindRow<ConsumerKind>>& ConsumerKinds() {
  static const auto* kinds = new std::vector<KindRow<ConsumerKind>>{
      {ConsumerKind::kConsole, "console", {"every"}},
      {ConsumerKind::kJsonl, "jsonl", {"path"}},
      {ConsumerKind::kAggregator, "aggregator", {}},
      {ConsumerKind::kRegistryLogger, "registry_logger", {}},
      {ConsumerKind::kDeadLetters, "dead_letters", {}},
  };
  return *kinds;
}

template <class Kind>
const char* KindName(const std::vector<KindRow<Kind>>& kinds, Kind kind) {
  for (const KindRow<Kind>& row : kinds) {
    if (row.kind == kind) return row.name;
  }
  return "?";
}

// Reads `kind:` and checks the entry's keys against `common` plus the
// kind's own. nullptr (the error recorded) when the kind is missing or
// unknown.
template <class Kind>
const KindRow<Kind>* ReadKind(Fields& f,
                              const std::vector<KindRow<Kind>>& kinds,
                              std::vector<std::string> common) {
  const std::string name = f.String("kind", true);
  const YAML::Node* value = f.Find("kind");
  if (value == nullptr || !value->IsScalar()) return nullptr;
  std::vector<std::string> names;
  for (const KindRow<Kind>& row : kinds) {
    if (name == row.name) {
      common.insert(common.end(), row.keys.begin(), row.keys.end());
      f.Check(common);
      return &row;
    }
    names.push_back(row.name);
  }
  f.Error(*value, absl::StrCat("unknown kind '", name, "'; use ",
                               absl::StrJoin(names, ", ")));
  return nullptr;
}

// A name another component refers to, checked once every section is read.
struct Ref {
  std::string name;
  Location where;
  std::string what;  // "binding 'a->b': 'to'"
};

class Parser {
 public:
  explicit Parser(Errors* errors) : errors_(errors) {}

  void Parse(const YAML::Node& root, TopologySpec* spec);

 private:
  // Calls `entry` for every mapping in the list under `key`.
  void EachEntry(Fields& root, const std::string& key, const char* what,
                 const std::function<void(Fields&)>& entry);

  void ParseNode(Fields& f, TopologySpec* spec);
  void ParseResource(Fields& f, TopologySpec* spec);
  void ParseLog(const YAML::Node& log, Fields& parent,
                bus::ResourceOptions* options);
  void ParseBinding(Fields& f, TopologySpec* spec);
  bus::Filter ParseFilterValue(const YAML::Node& value, Fields& parent);
  // Sources, models and consumers are named, located and placed the same
  // way; `parse` reads the rest, and returns false to drop the entry.
  template <class T>
  void EachComponent(Fields& root, const std::string& key, const char* what,
                     std::vector<T>* out, bool (Parser::*parse)(Fields&, T*));
  bool ParseSource(Fields& f, SourceSpec* s);
  bool ParseModel(Fields& f, ModelEntry* m);
  bool ParseConsumer(Fields& f, ConsumerSpec* c);

  void Placement(Fields& f, std::string* node);
  void ResourceRef(Fields& f, const std::string& key, const std::string& what,
                   std::string* out, bool required = true);
  void ParseDelivery(const YAML::Node& value, Fields& root,
                     TopologySpec* spec);
  void ParseTls(const YAML::Node& value, Fields& root, TopologySpec* spec);
  void ParseEvaluation(const YAML::Node& value, Fields& root,
                       TopologySpec* spec);

  void ParsePopulation(const YAML::Node& node, Fields& root,
                       TopologySpec* spec);
  void ParseAmqp(const YAML::Node& node, Fields& root, TopologySpec* spec);
  void ParseAmqpInbound(Fields& f, TopologySpec* spec);
  void ParseAmqpOutbound(Fields& f, TopologySpec* spec);

  void CheckNames(const TopologySpec& spec);
  void CheckRefs(const TopologySpec& spec);
  void CheckCycles(const TopologySpec& spec);

  Errors* errors_;
  std::vector<Ref> resource_refs_;
  std::vector<Ref> node_refs_;
  // Registry loggers and registry datasets; `what` is the whole message.
  std::vector<Ref> registry_users_;
};

const std::vector<std::string>& RootKeys() {
  static const auto* keys = new std::vector<std::string>{
      "name",      "description", "nodes",   "registry",  "evaluation",
      "resources", "bindings",    "sources", "models",    "consumers",
      "population", "amqp", "auth", "delivery", "tls"};
  return *keys;
}

void Parser::Parse(const YAML::Node& root, TopologySpec* spec) {
  if (!root.IsMap()) {
    errors_->push_back(
        {At(root), absl::StrCat("the spec must be a mapping with the keys ",
                                absl::StrJoin(RootKeys(), ", "))});
    return;
  }
  Fields f(root, "spec", errors_);
  f.Check(RootKeys());
  spec->name = f.String("name", false);
  spec->description = f.String("description", false);
  f.Require("resources");
  EachEntry(f, "nodes", "node", [&](Fields& e) { ParseNode(e, spec); });
  if (const YAML::Node* r = f.Find("registry"); r != nullptr) {
    if (!r->IsMap()) {
      f.Error(*r, "'registry' must be a mapping with the key dir");
    } else {
      Fields rf(*r, "registry", errors_);
      rf.Check({"dir"});
      spec->registry = RegistrySpec{rf.String("dir", true), rf.where()};
    }
  }
  if (const YAML::Node* e = f.Find("evaluation"); e != nullptr) {
    ParseEvaluation(*e, f, spec);
  }
  if (const YAML::Node* a = f.Find("auth"); a != nullptr) {
    if (!a->IsMap()) {
      f.Error(*a, "'auth' must be a mapping with the key token");
    } else {
      Fields af(*a, "auth", errors_);
      af.Check({"token"});
      spec->auth_token = af.String("token", true);
    }
  }
  EachEntry(f, "resources", "resource",
            [&](Fields& e) { ParseResource(e, spec); });
  EachEntry(f, "bindings", "binding",
            [&](Fields& e) { ParseBinding(e, spec); });
  EachComponent(f, "sources", "source", &spec->sources, &Parser::ParseSource);
  EachComponent(f, "models", "model", &spec->models, &Parser::ParseModel);
  EachComponent(f, "consumers", "consumer", &spec->consumers,
                &Parser::ParseConsumer);
  if (const YAML::Node* p = f.Find("population"); p != nullptr) {
    ParsePopulation(*p, f, spec);
  }
  if (const YAML::Node* a = f.Find("amqp"); a != nullptr) {
    ParseAmqp(*a, f, spec);
  }
  if (const YAML::Node* d = f.Find("delivery"); d != nullptr) {
    ParseDelivery(*d, f, spec);
  }
  if (const YAML::Node* t = f.Find("tls"); t != nullptr) {
    ParseTls(*t, f, spec);
  }
  CheckNames(*spec);
  CheckRefs(*spec);
  CheckCycles(*spec);
}

// A population method: its key under `population:`, its keys, and how it
// fills the options.
struct PopulationMethod {
  const char* name;
  std::vector<std::string> keys;
  void (*read)(Fields& f, PopulationOptions* out);
};

const std::vector<PopulationMethod>& PopulationMethods() {
  static const auto* methods = new std::vector<PopulationMethod>{
      {"asha",
       {"grace", "eta"},
       [](Fields& f, PopulationOptions* out) {
         AshaOptions a;
         f.Require("grace");
         a.grace = f.Uint("grace", 1, 1, uint64_t{1} << 50);
         a.eta = static_cast<uint32_t>(f.Uint("eta", a.eta, 2, 1000));
         out->asha = a;
       }},
      {"pbt",
       {"interval", "quantile", "seed"},
       [](Fields& f, PopulationOptions* out) {
         PbtOptions p;
         f.Require("interval");
         p.interval = f.Uint("interval", 1, 1, uint64_t{1} << 50);
         p.quantile = f.NonNegative("quantile", p.quantile);
         if (p.quantile <= 0 || p.quantile > 0.5) {
           f.Error(*f.Find("quantile"),
                   "'quantile' must be in (0, 0.5]: the bottom and top "
                   "fractions of the models");
         }
         p.seed = f.Uint("seed", p.seed, 0, UINT64_MAX);
         out->pbt = p;
       }},
  };
  return *methods;
}

void Parser::ParsePopulation(const YAML::Node& node, Fields& root,
                             TopologySpec* spec) {
  std::vector<std::string> names;
  for (const PopulationMethod& m : PopulationMethods()) names.push_back(m.name);
  if (!node.IsMap()) {
    root.Error(node, absl::StrCat("'population' must be a mapping with one "
                                  "or more of the keys ",
                                  absl::StrJoin(names, ", ")));
    return;
  }
  Fields f(node, "population", errors_);
  f.Check(names);
  PopulationSpec p;
  p.where = f.where();
  bool any = false;
  for (const PopulationMethod& m : PopulationMethods()) {
    const YAML::Node* value = f.Find(m.name);
    if (value == nullptr) continue;
    any = true;
    if (!value->IsMap()) {
      f.Error(*value, absl::StrCat("'", m.name, "' must be a mapping with "
                                   "the keys ", absl::StrJoin(m.keys, ", ")));
      continue;
    }
    Fields mf(*value, absl::StrCat("population ", m.name), errors_);
    mf.Check(m.keys);
    m.read(mf, &p.options);
  }
  if (!any) {
    errors_->push_back({p.where, absl::StrCat("population: name a method: ",
                                              absl::StrJoin(names, ", "))});
  }
  if (spec->models.size() < 2) {
    errors_->push_back({p.where, absl::StrCat(
        "population: needs at least 2 models to choose between; the spec "
        "has ", spec->models.size())});
  }
  // The controller hears the models' accuracies on one metrics resource.
  for (const ModelEntry& m : spec->models) {
    if (m.output == spec->models.front().output) continue;
    errors_->push_back({m.where, absl::StrCat(
        "population: model '", m.name, "' publishes to '", m.output,
        "' but '", spec->models.front().name, "' to '",
        spec->models.front().output,
        "'; give every model of a population the same output")});
  }
  spec->population = std::move(p);
}

std::string NameEntry(Fields& f, const char* what);

// `amqp: {url, inbound: [...], outbound: [...]}`. Each bridge also becomes a
// source or consumer of kind amqp, so names, references and the runner's
// waiting treat it like one.
void Parser::ParseAmqp(const YAML::Node& node, Fields& root,
                       TopologySpec* spec) {
  if (!node.IsMap()) {
    root.Error(node, "'amqp' must be a mapping with the keys url, inbound, "
                     "outbound");
    return;
  }
  Fields f(node, "amqp", errors_);
  f.Check({"url", "inbound", "outbound", "reconnect_min_ms",
           "reconnect_max_ms", "give_up_ms"});
  spec->amqp.emplace();
  AmqpSpec& a = *spec->amqp;
  a.where = f.where();
  a.url = f.String("url", true);
  if (const YAML::Node* url = f.Find("url"); url && url->IsScalar()) {
    Keep(f, *url, amqp::ParseBrokerUrl(a.url), &a.broker);
  }
  using Ms = std::chrono::milliseconds;
  const uint64_t hour_ms = 3600 * 1000;
  a.backoff.min = Ms(f.Uint("reconnect_min_ms", a.backoff.min.count(), 1,
                            hour_ms));
  a.backoff.max = Ms(f.Uint("reconnect_max_ms", a.backoff.max.count(), 1,
                            hour_ms));
  if (a.backoff.max < a.backoff.min) {
    f.Error(*f.Find("reconnect_max_ms"),
            "'reconnect_max_ms' must be >= 'reconnect_min_ms' (the backoff "
            "doubles from the one up to the other)");
  }
  const Ms give_up(f.Uint("give_up_ms", 30000, 1, hour_ms));
  EachEntry(f, "inbound", "amqp inbound",
            [&](Fields& e) { ParseAmqpInbound(e, spec); });
  EachEntry(f, "outbound", "amqp outbound",
            [&](Fields& e) { ParseAmqpOutbound(e, spec); });
  for (AmqpOutboundSpec& b : a.outbound) b.settings.give_up = give_up;
  if (!f.Has("inbound") && !f.Has("outbound")) {
    errors_->push_back({a.where, "amqp: add 'inbound' or 'outbound' "
                                 "bridges (or remove the section)"});
  }
}

void Parser::ParseAmqpInbound(Fields& f, TopologySpec* spec) {
  AmqpInboundSpec b;
  amqp::InboundSettings& in = b.settings;
  b.where = f.where();
  b.name = NameEntry(f, "amqp inbound");
  f.Check({"name", "queue", "resource", "declare", "durable", "prefetch",
           "rate"});
  in.queue = f.String("queue", true);
  if (f.Has("queue") && in.queue.empty()) {
    f.Error(*f.Find("queue"), "'queue' must not be empty");
  }
  ResourceRef(f, "resource", absl::StrCat("amqp inbound '", b.name, "'"),
              &b.resource);
  in.declare = f.Bool("declare", in.declare);
  in.durable = f.Bool("durable", in.durable);
  if (in.durable && !in.declare) {
    f.Error(*f.Find("durable"),
            "'durable' applies to a queue the bridge declares; with "
            "'declare: false' the queue is used as it was declared");
  }
  in.prefetch =
      static_cast<uint16_t>(f.Uint("prefetch", in.prefetch, 1, 65535));
  in.rate = f.NonNegative("rate", in.rate);
  SourceSpec s;
  s.name = b.name;
  s.kind = SourceKind::kAmqp;
  s.output = b.resource;
  s.rate = in.rate;
  s.queue = in.queue;
  s.amqp_bridge = spec->amqp->inbound.size();
  s.where = b.where;
  spec->sources.push_back(std::move(s));
  spec->amqp->inbound.push_back(std::move(b));
}

void Parser::ParseAmqpOutbound(Fields& f, TopologySpec* spec) {
  AmqpOutboundSpec b;
  amqp::OutboundSettings& out = b.settings;
  b.where = f.where();
  b.name = NameEntry(f, "amqp outbound");
  f.Check({"name", "resource", "exchange", "routing_key", "declare",
           "exchange_type", "persistent"});
  ResourceRef(f, "resource", absl::StrCat("amqp outbound '", b.name, "'"),
              &b.resource);
  out.exchange = f.String("exchange", true);
  out.routing_key = f.String("routing_key", false);
  if (f.Has("exchange") && out.exchange.empty() && out.routing_key.empty()) {
    f.Error(*f.Find("exchange"),
            "the default exchange (\"\") routes by queue name; give "
            "'routing_key: QUEUE'");
  }
  out.declare = f.Bool("declare", out.declare);
  out.exchange_type = f.String("exchange_type", false, out.exchange_type);
  static const auto* types =
      new std::vector<std::string>{"direct", "fanout", "topic", "headers"};
  if (std::find(types->begin(), types->end(), out.exchange_type) ==
      types->end()) {
    f.Error(*f.Find("exchange_type"),
            absl::StrCat("'exchange_type' is '", out.exchange_type, "'; use ",
                         absl::StrJoin(*types, ", ")));
  }
  if (out.declare && out.exchange.empty()) {
    f.Error(*f.Find("declare"), "the default exchange cannot be declared");
  }
  out.persistent = f.Bool("persistent", out.persistent);
  ConsumerSpec c;
  c.name = b.name;
  c.kind = ConsumerKind::kAmqp;
  c.inputs = {b.resource};
  c.amqp_bridge = spec->amqp->outbound.size();
  c.where = b.where;
  spec->consumers.push_back(std::move(c));
  spec->amqp->outbound.push_back(std::move(b));
}

void Parser::EachEntry(Fields& root, const std::string& key, const char* what,
                       const std::function<void(Fields&)>& entry) {
  const YAML::Node* list = root.Find(key);
  if (list == nullptr || list->IsNull()) return;
  if (!list->IsSequence()) {
    root.Error(*list, absl::StrCat("'", key,
                                   "' must be a list of mappings "
                                   "(\"- name: ...\")"));
    return;
  }
  size_t index = 0;
  for (const YAML::Node& item : *list) {
    ++index;
    const std::string label = absl::StrCat(what, " ", index);
    if (!item.IsMap()) {
      errors_->push_back(
          {At(item), absl::StrCat(label, ": must be a mapping")});
      continue;
    }
    Fields f(item, label, errors_);
    entry(f);
  }
}

void Parser::Placement(Fields& f, std::string* node) {
  *node = f.Name("node", false);
  if (!node->empty()) {
    node_refs_.push_back({*node, At(*f.Find("node")), "'node'"});
  }
}

void Parser::ResourceRef(Fields& f, const std::string& key,
                         const std::string& what, std::string* out,
                         bool required) {
  *out = f.Name(key, required);
  if (!out->empty()) {
    resource_refs_.push_back(
        {*out, At(*f.Find(key)), absl::StrCat(what, ": '", key, "'")});
  }
}

// Names the entry once its name is known, so later errors say which one.
std::string NameEntry(Fields& f, const char* what) {
  std::string name = f.Name("name", true);
  if (!name.empty()) f.set_what(absl::StrCat(what, " '", name, "'"));
  return name;
}

template <class T>
void Parser::EachComponent(Fields& root, const std::string& key,
                           const char* what, std::vector<T>* out,
                           bool (Parser::*parse)(Fields&, T*)) {
  EachEntry(root, key, what, [&](Fields& f) {
    T component;
    component.where = f.where();
    component.name = NameEntry(f, what);
    if (!(this->*parse)(f, &component)) return;
    Placement(f, &component.node);
    out->push_back(std::move(component));
  });
}

void Parser::ParseEvaluation(const YAML::Node& value, Fields& root,
                             TopologySpec* spec) {
  if (!value.IsMap()) {
    root.Error(value,
               "'evaluation' must be a mapping with the keys data_dir, limit");
    return;
  }
  Fields f(value, "evaluation", errors_);
  f.Check({"data_dir", "limit"});
  EvaluationSpec e;
  e.where = f.where();
  e.data_dir = f.String("data_dir", true);
  e.limit = f.Uint("limit", 0, 0, UINT64_MAX);
  spec->evaluation = std::move(e);
}

void Parser::ParseDelivery(const YAML::Node& value, Fields& root,
                           TopologySpec* spec) {
  if (!value.IsMap()) {
    root.Error(value,
               "'delivery' must be a mapping with the keys heartbeat_s, "
               "connection_timeout_s, checkpoint_every");
    return;
  }
  Fields f(value, "delivery", errors_);
  f.Check({"heartbeat_s", "connection_timeout_s", "checkpoint_every"});
  DeliverySpec& d = spec->delivery;
  d.where = f.where();
  d.heartbeat_s = f.NonNegative("heartbeat_s", d.heartbeat_s);
  d.connection_timeout_s =
      f.NonNegative("connection_timeout_s", d.connection_timeout_s);
  d.checkpoint_every = f.Uint("checkpoint_every", 0, 0, uint64_t{1} << 40);
  if (absl::Status s = CheckDelivery(d); !s.ok()) {
    f.Error(value, std::string(s.message()));
  }
}

void Parser::ParseTls(const YAML::Node& value, Fields& root,
                      TopologySpec* spec) {
  constexpr char kKeys[] =
      "dir (from `trainbus cluster-certs DIR`), or certificate, key and "
      "cafile, or insecure: true";
  if (!value.IsMap()) {
    root.Error(value, absl::StrCat("'tls' must be a mapping with ", kKeys));
    return;
  }
  Fields f(value, "tls", errors_);
  f.Check({"dir", "certificate", "key", "cafile", "insecure"});
  TlsSpec t;
  t.where = f.where();
  t.settings.dir = f.String("dir", false);
  t.settings.certificate = f.String("certificate", false);
  t.settings.key = f.String("key", false);
  t.settings.cafile = f.String("cafile", false);
  t.settings.insecure = f.Bool("insecure", false);
  const bool files = !t.settings.certificate.empty() ||
                     !t.settings.key.empty() || !t.settings.cafile.empty();
  const bool all_files = !t.settings.certificate.empty() &&
                         !t.settings.key.empty() && !t.settings.cafile.empty();
  if (int(t.settings.insecure) + int(!t.settings.dir.empty()) + int(files) !=
          1 ||
      (files && !all_files)) {
    f.Error(value, absl::StrCat("'tls' takes one of: ", kKeys));
  }
  spec->tls = std::move(t);
}

void Parser::ParseNode(Fields& f, TopologySpec* spec) {
  NodeSpec n;
  n.where = f.where();
  n.name = NameEntry(f, "node");
  f.Check({"name", "address"});
  n.address = f.String("address", false);
  if (!n.address.empty()) {
    std::pair<std::string, std::string> hp =
        absl::StrSplit(n.address, absl::MaxSplits(':', 1));
    uint32_t port = 0;
    if (hp.first.empty() || !absl::SimpleAtoi(hp.second, &port) || port == 0 ||
        port > 65535) {
      f.Error(*f.Find("address"),
              absl::StrCat("'address' is '", n.address,
                           "'; expected HOST:PORT with a port in [1, 65535]"));
    }
  }
  spec->nodes.push_back(std::move(n));
}

void Parser::ParseResource(Fields& f, TopologySpec* spec) {
  ResourceSpec r;
  r.where = f.where();
  r.options.name = NameEntry(f, "resource");
  f.Check({"name", "durable", "log", "max_queue", "node"});
  r.options.max_queue = static_cast<uint32_t>(
      f.Uint("max_queue", r.options.max_queue, 1, 1 << 24));
  const bool durable = f.Bool("durable", false);
  const YAML::Node* log = f.Find("log");
  if (log != nullptr && !durable) {
    f.Error(*log,
            "'log' configures a durable resource; add 'durable: true' "
            "or remove 'log'");
  } else if (durable && log == nullptr) {
    f.Error(*f.Find("durable"),
            "a durable resource needs 'log: {dir: ...}' (where it appends)");
  } else if (log != nullptr) {
    ParseLog(*log, f, &r.options);
  }
  Placement(f, &r.node);
  spec->resources.push_back(std::move(r));
}

void Parser::ParseLog(const YAML::Node& log, Fields& parent,
                      bus::ResourceOptions* options) {
  if (!log.IsMap()) {
    parent.Error(log, "'log' must be a mapping with the key dir");
    return;
  }
  Fields f(log, absl::StrCat(parent.what(), " log"), errors_);
  f.Check({"dir", "segment_bytes", "fsync_every", "retention_bytes"});
  options->log_dir = f.String("dir", true);
  if (f.Has("dir") && options->log_dir.empty()) {
    f.Error(*f.Find("dir"), "'dir' must not be empty");
  }
  options->segment_bytes =
      f.Uint("segment_bytes", options->segment_bytes, 4096, uint64_t{1} << 40);
  options->fsync_every = static_cast<uint32_t>(
      f.Uint("fsync_every", options->fsync_every, 0, 1u << 31));
  options->retention_bytes =
      f.Uint("retention_bytes", options->retention_bytes, 0, UINT64_MAX);
}

void Parser::ParseBinding(Fields& f, TopologySpec* spec) {
  BindingSpec b;
  b.where = f.where();
  bus::BindingOptions& o = b.options;
  o.from = f.Name("from", true);
  o.to = f.Name("to", true);
  if (!o.from.empty() && !o.to.empty()) {
    f.set_what(absl::StrCat("binding '", o.Name(), "'"));
  }
  f.Check({"from", "to", "filter", "policy", "window", "max_queue"});
  if (!o.from.empty()) {
    resource_refs_.push_back(
        {o.from, At(*f.Find("from")),
         absl::StrCat("binding '", o.Name(), "': 'from'")});
  }
  if (!o.to.empty()) {
    resource_refs_.push_back({o.to, At(*f.Find("to")),
                              absl::StrCat("binding '", o.Name(), "': 'to'")});
  }
  if (const YAML::Node* filter = f.Find("filter"); filter != nullptr) {
    o.filter = ParseFilterValue(*filter, f);
  }
  if (const YAML::Node* policy = f.Find("policy"); policy != nullptr) {
    absl::StatusOr<bus::Policy> p = bus::ParsePolicy(f.String("policy", true));
    if (policy->IsScalar() && !p.ok())
      f.Error(*policy, std::string(p.status().message()));
    if (p.ok()) o.policy = *p;
  }
  o.window = static_cast<uint32_t>(f.Uint("window", o.window, 1, 1 << 20));
  o.max_queue = static_cast<uint32_t>(f.Uint("max_queue", 0, 0, 1 << 24));
  spec->bindings.push_back(std::move(b));
}

// "labelled;labels=0,1" or {kind: labelled, labels: [0, 1], ratio: 0.5}:
// both go through the bus's own ParseFilter, so its rules are the rules.
bus::Filter Parser::ParseFilterValue(const YAML::Node& value, Fields& parent) {
  std::string text;
  if (value.IsScalar()) {
    text = value.Scalar();
  } else if (value.IsMap()) {
    Fields f(value, "filter", errors_);
    f.Check({"kind", "labels", "ratio"});
    const size_t before = errors_->size();
    text = f.String("kind", false, "all");
    if (const YAML::Node* labels = f.Find("labels"); labels != nullptr) {
      std::vector<std::string> items;
      if (labels->IsSequence()) {
        for (const YAML::Node& l : *labels) {
          items.push_back(l.IsScalar() ? l.Scalar() : "?");
        }
      }
      if (items.empty()) {
        f.Error(*labels, "'labels' must be a non-empty list of labels");
      }
      absl::StrAppend(&text, ";labels=", absl::StrJoin(items, ","));
    }
    if (f.Has("ratio")) {
      absl::StrAppend(&text, ";ratio=", f.String("ratio", false));
    }
    if (errors_->size() != before) return bus::Filter::All();
  } else {
    parent.Error(value,
                 "'filter' must be a string (\"labelled;labels=0,1\") "
                 "or a mapping with kind, labels and ratio");
    return bus::Filter::All();
  }
  absl::StatusOr<bus::Filter> filter = bus::ParseFilter(text);
  if (!filter.ok()) {
    parent.Error(value, std::string(filter.status().message()));
    return bus::Filter::All();
  }
  return *filter;
}

bool Parser::ParseSource(Fields& f, SourceSpec* out) {
  SourceSpec& s = *out;
  const KindRow<SourceKind>* kind =
      ReadKind(f, SourceKinds(), {"name", "kind", "output", "node", "rate"});
  if (kind == nullptr) return false;  // its keys cannot be checked
  s.kind = kind->kind;
  ResourceRef(f, "output", absl::StrCat("source '", s.name, "'"), &s.output);
  if (s.kind == SourceKind::kImageDir) {
    s.dir = f.String("dir", true);
    ResourceRef(f, "dead_letter", absl::StrCat("source '", s.name, "'"),
                &s.dead_letter, /*required=*/false);
    s.export_images = f.Uint("export_images", 0, 0, 1000000);
    s.export_broken = f.Uint("export_broken", 0, 0, 1000000);
    // An export reads the test split of data_dir.
    s.data_dir = f.String("data_dir", s.export_images + s.export_broken > 0);
  } else if (f.Has("dataset")) {
    s.dataset = f.String("dataset", true);
    if (f.Has("data_dir")) {
      f.Error(*f.Find("dataset"),
              "give 'data_dir' or 'dataset' (a registry dataset), not both");
    }
    registry_users_.push_back(
        {s.name, At(*f.Find("dataset")),
         absl::StrCat("source '", s.name,
                      "': 'dataset' is read from the registry; add a "
                      "'registry: {dir: ...}' section")});
  } else {
    s.data_dir = f.String("data_dir", true);
  }
  s.epochs = f.Uint("epochs", s.epochs, 1, 1000000);
  s.rate = f.NonNegative("rate", s.rate);
  s.seed = f.Uint("seed", s.seed, 0, UINT64_MAX);
  s.limit = f.Uint("limit", s.limit, 0, UINT64_MAX);
  s.first = f.Uint("first", s.first, 0, UINT64_MAX);
  s.labels = f.Bool("labels", s.labels);
  s.batch = static_cast<uint32_t>(f.Uint("batch", s.batch, 1, 4096));
  return true;
}

bool Parser::ParseModel(Fields& f, ModelEntry* out) {
  ModelEntry& m = *out;
  f.Check({"name", "spec", "input", "output", "predictions", "eval_every",
           "eval_subset", "node"});
  m.spec_text = f.String("spec", true);
  if (const YAML::Node* text = f.Find("spec"); text && text->IsScalar()) {
    Keep(f, *text, nn::ParseModelSpec(m.spec_text), &m.spec);
  }
  const std::string what = absl::StrCat("model '", m.name, "'");
  ResourceRef(f, "input", what, &m.input);
  ResourceRef(f, "output", what, &m.output);
  ResourceRef(f, "predictions", what, &m.predictions, /*required=*/false);
  m.eval_every =
      static_cast<uint32_t>(f.Uint("eval_every", m.eval_every, 1, 1u << 30));
  m.eval_subset =
      static_cast<uint32_t>(f.Uint("eval_subset", m.eval_subset, 0, 1u << 30));
  return true;
}

bool Parser::ParseConsumer(Fields& f, ConsumerSpec* out) {
  ConsumerSpec& c = *out;
  const KindRow<ConsumerKind>* kind =
      ReadKind(f, ConsumerKinds(), {"name", "kind", "inputs", "node"});
  if (kind == nullptr) return false;
  c.kind = kind->kind;
  if (c.kind == ConsumerKind::kRegistryLogger) {
    registry_users_.push_back(
        {c.name, c.where,
         absl::StrCat("consumer '", c.name,
                      "': a registry_logger needs a 'registry: {dir: ...}' "
                      "section to log to")});
  }
  c.inputs = f.Names("inputs");
  if (const YAML::Node* inputs = f.Find("inputs"); inputs != nullptr) {
    for (const std::string& input : c.inputs) {
      resource_refs_.push_back(
          {input, At(*inputs),
           absl::StrCat("consumer '", c.name, "': 'inputs'")});
    }
  }
  if (c.kind == ConsumerKind::kJsonl) c.path = f.String("path", true);
  c.every = f.Uint("every", c.every, 0, UINT64_MAX);  // 0: no predictions
  return true;
}

// One namespace per section for resources and nodes; sources, models and
// consumers are all actors and share one (a model may share its resource's
// name, as "model1" does in parallel_models).
void Parser::CheckNames(const TopologySpec& spec) {
  auto check = [&](std::map<std::string, Location>& seen, const char* what,
                   const std::string& name, Location where) {
    if (name.empty()) return;
    auto [it, inserted] = seen.emplace(name, where);
    if (!inserted) {
      errors_->push_back(
          {where, absl::StrCat("duplicate name '", name, "': a ", what,
                               " with this name is declared at line ",
                               it->second.line, "; rename one")});
    }
  };
  std::map<std::string, Location> nodes, resources, actors, bindings;
  for (const NodeSpec& n : spec.nodes) check(nodes, "node", n.name, n.where);
  for (const ResourceSpec& r : spec.resources) {
    check(resources, "resource", r.options.name, r.where);
  }
  for (const SourceSpec& s : spec.sources)
    check(actors, "component", s.name, s.where);
  for (const ModelEntry& m : spec.models)
    check(actors, "component", m.name, m.where);
  for (const ConsumerSpec& c : spec.consumers) {
    check(actors, "component", c.name, c.where);
  }
  for (const BindingSpec& b : spec.bindings) {
    if (b.options.from.empty() || b.options.to.empty()) continue;
    check(bindings, "binding", b.options.Name(), b.where);
  }
}

void Parser::CheckRefs(const TopologySpec& spec) {
  std::set<std::string> resources, nodes;
  for (const ResourceSpec& r : spec.resources) resources.insert(r.options.name);
  for (const NodeSpec& n : spec.nodes) nodes.insert(n.name);
  for (const Ref& ref : resource_refs_) {
    if (resources.count(ref.name)) continue;
    errors_->push_back(
        {ref.where, absl::StrCat(ref.what, " names resource '", ref.name,
                                 "', which is not declared; declare it under "
                                 "'resources' or use a declared one")});
  }
  for (const Ref& ref : node_refs_) {
    if (nodes.count(ref.name)) continue;
    errors_->push_back(
        {ref.where, absl::StrCat("'node' is '", ref.name,
                                 "', which is not listed under 'nodes'; list "
                                 "it there or remove the placement")});
  }
  if (!spec.registry.has_value()) {
    for (const Ref& user : registry_users_) {
      errors_->push_back({user.where, user.what});
    }
  }
}

// Bindings form a graph over resources; a cycle would circulate messages
// for ever. Each cycle is reported once, at the binding that closes it.
void Parser::CheckCycles(const TopologySpec& spec) {
  std::map<std::string, std::vector<const BindingSpec*>> out;
  for (const BindingSpec& b : spec.bindings) {
    if (!b.options.from.empty() && !b.options.to.empty()) {
      out[b.options.from].push_back(&b);
    }
  }
  enum class Mark { kNew, kOnPath, kDone };
  std::map<std::string, Mark> mark;
  std::vector<std::string> path;
  std::function<void(const std::string&)> visit = [&](const std::string& r) {
    mark[r] = Mark::kOnPath;
    path.push_back(r);
    for (const BindingSpec* b : out[r]) {
      const std::string& to = b->options.to;
      if (mark[to] == Mark::kOnPath) {
        auto start = std::find(path.begin(), path.end(), to);
        std::vector<std::string> cycle(start, path.end());
        cycle.push_back(to);
        errors_->push_back(
            {b->where,
             absl::StrCat("binding '", b->options.Name(),
                          "' closes a cycle: ", absl::StrJoin(cycle, " -> "),
                          "; remove one of its bindings")});
      } else if (mark[to] == Mark::kNew) {
        visit(to);
      }
    }
    path.pop_back();
    mark[r] = Mark::kDone;
  };
  for (const BindingSpec& b : spec.bindings) {
    if (!b.options.from.empty() && mark[b.options.from] == Mark::kNew) {
      visit(b.options.from);
    }
  }
}

}  // namespace

const char* SourceKindName(SourceKind kind) {
  if (kind == SourceKind::kAmqp) return "amqp";  // from the amqp: section
  return KindName(SourceKinds(), kind);
}

const char* ConsumerKindName(ConsumerKind kind) {
  if (kind == ConsumerKind::kAmqp) return "amqp";
  return KindName(ConsumerKinds(), kind);
}

std::vector<SpecError> ParseAndValidate(absl::string_view text,
                                        TopologySpec* spec) {
  Errors errors;
  TopologySpec parsed;
  try {
    if (std::optional<YAML::Node> doc =
            LoadOneDocument(std::string(text), &errors)) {
      Parser(&errors).Parse(*doc, &parsed);
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports a syntax error (tabs, unclosed brackets ...) this way.
    errors.push_back({At(e.mark), absl::StrCat("not valid YAML: ", e.msg)});
  }
  std::stable_sort(errors.begin(), errors.end(),
                   [](const SpecError& a, const SpecError& b) {
                     return std::make_pair(a.where.line, a.where.column) <
                            std::make_pair(b.where.line, b.where.column);
                   });
  if (errors.empty()) *spec = std::move(parsed);
  return errors;
}

std::string FormatErrors(absl::string_view origin,
                         const std::vector<SpecError>& errors) {
  std::string out;
  for (const SpecError& e : errors) {
    if (!out.empty()) out += "\n";
    if (e.where.line > 0) {
      absl::StrAppend(&out, origin, ":", e.where.line, ":", e.where.column,
                      ": ", e.message);
    } else {
      absl::StrAppend(&out, origin, ": ", e.message);
    }
  }
  return out;
}

absl::Status CheckDelivery(const DeliverySpec& d) {
  if (d.heartbeat_s <= 0 || d.connection_timeout_s < 2 * d.heartbeat_s) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "heartbeat_s (%g) must be above 0 and connection_timeout_s (%g) at "
        "least twice it, so that one late heartbeat does not drop a node",
        d.heartbeat_s, d.connection_timeout_s));
  }
  return absl::OkStatus();
}

absl::StatusOr<TopologySpec> ParseSpec(absl::string_view text,
                                       absl::string_view origin) {
  TopologySpec spec;
  std::vector<SpecError> errors = ParseAndValidate(text, &spec);
  if (!errors.empty()) {
    return absl::InvalidArgumentError(FormatErrors(origin, errors));
  }
  return spec;
}

absl::StatusOr<TopologySpec> LoadSpecFile(const std::string& path) {
  absl::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseSpec(*text, path);
}

}  // namespace trainbus::topology
