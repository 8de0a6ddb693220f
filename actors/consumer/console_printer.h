// A consumer that prints one line per message, or per Nth message of each
// kind, so a person can watch predictions, metrics and dead letters go by.
//
//   ConsolePrinterOptions o;
//   o.consumer.name = "console";
//   o.consumer.inputs = {*bus.Lookup("predictions"), *bus.Lookup("metrics")};
//   o.prediction_every = 500;   // every 500th prediction
//   SpawnConsolePrinter(sys, o);
//
// Lines look like
//   [console] prediction #500 model2 v1 test-replay#123 -> 7 Sneaker
//   (p=0.93) 1.2 ms [console] metric model1 test step 200 loss=0.61
//   test_accuracy=0.79 [console] dead letter images#12 /tmp/x/broken.png: not a
//   PNG ...
#ifndef TRAINBUS_ACTORS_CONSUMER_CONSOLE_PRINTER_H_
#define TRAINBUS_ACTORS_CONSUMER_CONSOLE_PRINTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/consumer/consumer.h"
#include "bus/message.h"

namespace trainbus::actors {

struct ConsolePrinterOptions {
  ConsumerOptions consumer;
  // Print the 1st, (N+1)th, (2N+1)th ... message of each kind; 0: none.
  uint64_t prediction_every = 1;
  uint64_t metric_every = 1;
  uint64_t sample_every = 1;             // samples, dead letters, end markers
  std::vector<std::string> class_names;  // label names, if known
  // Where lines go (without the newline); default: caf::aout.
  std::function<void(const std::string&)> write;
};

// The line for each kind of message (`n` is its 1-based count of that kind).
std::string FormatPredictionLine(const bus::Prediction& p, uint64_t n,
                                 const std::vector<std::string>& class_names);
std::string FormatMetricLine(const bus::Metric& m);
std::string FormatSampleLine(const bus::Sample& s);

std::unique_ptr<ConsumerLogic> MakeConsolePrinterLogic(
    ConsolePrinterOptions options);

caf::actor SpawnConsolePrinter(caf::actor_system& sys,
                               ConsolePrinterOptions options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_CONSOLE_PRINTER_H_
