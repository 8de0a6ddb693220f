#include "report/topology_svg_testing.h"

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "base/test_dir.h"

namespace trainbus::report {
namespace {

std::string Unescape(const std::string& text) {
  return absl::StrReplaceAll(
      text, {{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}});
}

DrawnBox BoxOf(const std::smatch& m, size_t first) {
  return {std::stod(m[first]), std::stod(m[first + 1]),
          std::stod(m[first + 2]), std::stod(m[first + 3])};
}

}  // namespace

bool DrawnBox::Contains(const DrawnBox& b) const {
  return b.x >= x && b.y >= y && b.x + b.w <= x + w && b.y + b.h <= y + h;
}

bool DrawnBox::Overlaps(const DrawnBox& b) const {
  return b.x < x + w && x < b.x + b.w && b.y < y + h && y < b.y + b.h;
}

DrawnTopology ReadTopologySvg(const std::string& svg) {
  DrawnTopology d;
  // "re" delimiters: the patterns hold )" themselves.
  const std::string box =
      R"re(<rect x="([-0-9.]+)" y="([-0-9.]+)" width="([-0-9.]+)" )re"
      R"re(height="([-0-9.]+)")re";
  const std::regex node(
      R"re(<g class="node [a-z]+"><title>([^<]*)</title>)re" + box);
  const std::regex group(R"re(<g class="group"><title>([^<]*)</title>)re" +
                         box);
  const std::regex edge(
      R"re(<g class="edge"><title>([^<]*) -&gt; ([^<]*)</title>)re"
      R"re(<path [^>]*/>(?:<rect [^>]*/><text [^>]*>([^<]*)</text>)?</g>)re");
  for (std::sregex_iterator it(svg.begin(), svg.end(), node), end; it != end;
       ++it) {
    const std::string id = Unescape((*it)[1]);
    d.nodes[id] = BoxOf(*it, 2);
    ++d.node_count[id];
  }
  for (std::sregex_iterator it(svg.begin(), svg.end(), group), end; it != end;
       ++it) {
    d.groups[Unescape((*it)[1])] = BoxOf(*it, 2);
  }
  for (std::sregex_iterator it(svg.begin(), svg.end(), edge), end; it != end;
       ++it) {
    d.edges.push_back(
        {Unescape((*it)[1]), Unescape((*it)[2]), Unescape((*it)[3])});
  }
  return d;
}

std::string XmlProblems(const std::string& svg) {
  const std::string path = base::NewTestDir("svg") + "/picture.svg";
  if (absl::Status s = base::WriteFileAtomically(path, svg); !s.ok()) {
    return std::string(s.message());
  }
  // Debian's python3 (not the one on PATH): its expat parser refuses
  // anything that is not well-formed, with the line and column.
  absl::StatusOr<base::ProgramRun> run = base::RunProgram(
      {"/usr/bin/python3", "-c",
       "import sys, xml.dom.minidom\n"
       "try:\n"
       "    xml.dom.minidom.parse(sys.argv[1])\n"
       "except Exception as e:\n"
       "    print(e)\n"
       "    sys.exit(1)\n",
       path},
      absl::Seconds(30));
  if (!run.ok()) return absl::StrCat("python3: ", run.status().message());
  if (!run->exit.success() || !run->output.empty()) {
    return absl::StrCat("not well-formed XML: ", run->output);
  }
  return "";
}

}  // namespace trainbus::report
