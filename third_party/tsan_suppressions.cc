// ThreadSanitizer's suppressions under --config=tsan, compiled into every
// binary (the runtime asks for them through this hook), so no test needs a
// TSAN_OPTIONS path. Each names the one hand-over inside an uninstrumented
// Debian library that makes it a false positive, and nothing broader.
extern "C" const char* __tsan_default_suppressions() {
  return
      // An actor's first run. caf::actor_system::spawn builds the actor on
      // the spawning thread and pushes it onto a work-stealing queue inside
      // libcaf_core.so (atomics TSan cannot see); the worker that pops it
      // runs scheduled_actor::activate, which initializes the actor and
      // reads what the spawner wrote. Seen in
      // //registry:runner_main_test (RunsAgainstARegistryNode).
      "race:caf::scheduled_actor::activate\n"
      // The scheduler's job queue. A thread that makes an actor runnable
      // allocates a queue node in coordinator::enqueue; the worker that
      // takes the job frees it in double_ended_queue::take_tail; the two are
      // ordered by the queue's spinlock (atomics inside libcaf_core.so).
      // Seen in //bus:node_test (PublishesOnAReachASubscriberOnB...).
      "race:caf::detail::double_ended_queue\n"
      // A message's storage. The sender builds the tuple (make_message, in
      // our objects); the receiver's behavior reads it after the mailbox
      // hand-over inside libcaf_core.so. Only CAF's tuple classes match,
      // so a race in what a handler does with the values is still
      // reported. Seen in //bus:node_test.
      "race:caf::detail::tuple_vals_impl\n"
      // The same hand-over seen from the sender: the message's memory as
      // caf::make_message allocated and filled it, against the receiver
      // that reads, serializes (libcaf_io, to a remote node) or frees it.
      // Seen in //bus:node_test and //registry:runner_main_test.
      "race:caf::make_message\n"
      // The same hand-over for a request: caf::make_mailbox_element builds
      // the element and its tuple on the sending thread (a blocking
      // request from our code, e.g. Bus::Ask), and the receiver's
      // match_case reads it after the mailbox push inside libcaf_core.so.
      // Seen in //bus:node_test and //bus:tls_test (session 5).
      "race:caf::make_mailbox_element\n"
      // An actor's group-subscription set (an unordered_set<caf::group>,
      // which only CAF keeps): set up where a scoped_actor is made (inside
      // middleman().publish), cleared by the CAF thread that cleans the
      // actor up. Seen in //registry:runner_main_test.
      "race:std::_Hashtable<caf::group\n";
}
