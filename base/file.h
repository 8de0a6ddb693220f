// File helpers for outputs: create directories, check before a run that a
// path can be written, and write a whole file atomically. No shell.
//
//   TB_RETURN_IF_ERROR(base::CheckFileWritable(report_path));  // up front
//   ... the work ...
//   TB_RETURN_IF_ERROR(base::WriteFileAtomically(report_path, json));
#ifndef TRAINBUS_BASE_FILE_H_
#define TRAINBUS_BASE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::base {

// Creates `dir` and its missing parents (like mkdir -p). Fails if `dir` or
// a parent exists and is not a directory.
absl::Status CreateDirectories(const std::string& dir);

// Creates `dir` and checks that a file can be created in it (by creating
// and removing a probe file).
absl::Status CheckDirectoryWritable(const std::string& dir);

// Checks, before any work, that `path` can be written later: creates its
// parent directory, probes it, and refuses a `path` that is a directory.
absl::Status CheckFileWritable(const std::string& path);

// Writes `contents` to a temporary file next to `path`, fsyncs it and
// renames it over `path`: a reader sees the old file or the whole new one.
// Creates the parent directory.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// The whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_FILE_H_
