#include "gateway/dashboard_assets.h"

#include <iterator>

namespace trainbus::gateway {
namespace {

// Each .inc is its file as one raw string literal (the genrule in BUILD).
constexpr char kIndexHtml[] =
#include "gateway/dashboard/index.html.inc"
    ;
constexpr char kDashboardJs[] =
#include "gateway/dashboard/dashboard.js.inc"
    ;
constexpr char kDashboardCss[] =
#include "gateway/dashboard/dashboard.css.inc"
    ;

constexpr DashboardAsset kAssets[] = {
    {"/", "text/html; charset=utf-8", kIndexHtml},
    {"/index.html", "text/html; charset=utf-8", kIndexHtml},
    {"/dashboard.js", "application/javascript; charset=utf-8", kDashboardJs},
    {"/dashboard.css", "text/css; charset=utf-8", kDashboardCss},
};

}  // namespace

const DashboardAsset* FindDashboardAsset(absl::string_view path) {
  for (const DashboardAsset& a : kAssets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace trainbus::gateway
