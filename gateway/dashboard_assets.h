// The dashboard's files (gateway/dashboard/), compiled into the binary so
// that `trainbus` serves the page from any directory, offline.
#ifndef TRAINBUS_GATEWAY_DASHBOARD_ASSETS_H_
#define TRAINBUS_GATEWAY_DASHBOARD_ASSETS_H_

#include "absl/strings/string_view.h"

namespace trainbus::gateway {

struct DashboardAsset {
  absl::string_view path;  // "/", "/dashboard.js", ...
  absl::string_view content_type;
  absl::string_view content;
};

// Null for a path that is not one of the dashboard's files.
const DashboardAsset* FindDashboardAsset(absl::string_view path);

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_DASHBOARD_ASSETS_H_
