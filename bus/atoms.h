// The atoms of the bus protocol (CAF 0.17: at most 10 characters each).
// Which actor accepts which message is declared, as typed actor handles, in
// bus/protocol.h.
#ifndef TRAINBUS_BUS_ATOMS_H_
#define TRAINBUS_BUS_ATOMS_H_

#include "caf/atom.hpp"

namespace trainbus::bus {

using publish_atom = caf::atom_constant<caf::atom("publish")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using declare_atom = caf::atom_constant<caf::atom("declare")>;
using bind_atom = caf::atom_constant<caf::atom("bind")>;
using unbind_atom = caf::atom_constant<caf::atom("unbind")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_ATOMS_H_
