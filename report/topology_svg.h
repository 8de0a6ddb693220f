// Draws a bus topology as SVG: resources as boxes in columns by distance
// from the sources, bindings as arrows labelled with filter and policy.
// Durable resources get a double border, remote ones a dashed one.
#ifndef TRAINBUS_REPORT_TOPOLOGY_SVG_H_
#define TRAINBUS_REPORT_TOPOLOGY_SVG_H_

#include <string>

#include "bus/directory.h"

namespace trainbus::report {

std::string TopologyToSvg(const bus::TopologyDescription& topology);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_TOPOLOGY_SVG_H_
