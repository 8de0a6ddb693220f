// What every subscriber of a resource does besides its own work: give the
// credit it used back in batches, and end when its subscription is refused.
// Model actors and consumers share these, so there is one way to do each.
//
//   // in the state:         bus::CreditReturner credit{window / 4};
//   // after each delivery:  st.credit.Consumed(self, from);
//   // in make_behavior:     bus::QuitOnSubscribeError(self, name);
#ifndef TRAINBUS_BUS_SUBSCRIBER_H_
#define TRAINBUS_BUS_SUBSCRIBER_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "bus/atoms.h"
#include "base/status_error.h"
#include "caf/actor_addr.hpp"
#include "caf/actor_cast.hpp"
#include "caf/all.hpp"

namespace trainbus::bus {

// Credit owed to each resource, sent back once `batch` deliveries from it
// have been handled: one message per batch instead of one per delivery.
class CreditReturner {
 public:
  explicit CreditReturner(uint32_t batch = 1)
      : batch_(std::max<uint32_t>(batch, 1)) {}

  template <class Self, class Handle>
  void Consumed(Self* self, const Handle& from, uint32_t n = 1) {
    uint32_t& owed = owed_[caf::actor_cast<caf::actor_addr>(from)];
    owed += n;
    if (owed >= batch_) {
      self->send(from, credit_atom::value, owed);
      owed = 0;
    }
  }

 private:
  uint32_t batch_;
  std::map<caf::actor_addr, uint32_t> owed_;
};

// The resource answers a subscription made with SubscribeNow with an error
// message when it refuses it: print it under the subscriber's name and quit
// with it, so whoever monitors the subscriber learns why.
template <class Self>
void QuitOnSubscribeError(Self* self, std::string name) {
  self->set_error_handler([self, name = std::move(name)](caf::error& err) {
    caf::aout(self) << name << ": cannot subscribe: " << base::ErrorToString(err)
                    << "\n";
    self->quit(err);
  });
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_SUBSCRIBER_H_
