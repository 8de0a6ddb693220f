#include "bus/log/log.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/file_size_limit.h"
#include "base/status_macros.h"
#include "bus/log/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

namespace fs = std::filesystem;
namespace fmt = ::trainbus::bus::log_format;

constexpr size_t kRec = fmt::kRecordHeaderBytes;
constexpr size_t kSeg = fmt::kSegmentHeaderBytes;

// A fresh directory under TEST_TMPDIR, named after the running test.
std::string TestDir(const std::string& suffix = "") {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", info->test_suite_name(),
                                 ".", info->name(), suffix);
  fs::remove_all(dir);
  return dir;
}

// Deterministic bytes for the record at `offset`.
std::vector<uint8_t> Payload(uint64_t offset, size_t size) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>(offset * 31 + i * 7);
  return p;
}

// Options whose segments hold `records` records of `payload_bytes` each.
LogOptions SegmentsOf(uint64_t records, size_t payload_bytes) {
  LogOptions options;
  options.segment_bytes = kSeg + records * (kRec + payload_bytes);
  return options;
}

std::unique_ptr<Log> OpenOrDie(const std::string& dir, const LogOptions& options) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

void AppendN(Log& log, uint64_t first, uint64_t count, size_t size) {
  for (uint64_t o = first; o < first + count; ++o) {
    absl::StatusOr<uint64_t> got = log.Append(Payload(o, size));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, o);
  }
}

struct ReadResult {
  std::vector<uint64_t> offsets;
  absl::Status status;  // the error that ended reading, if any
  bool payloads_ok = true;
};

// Reads until "no more yet" or an error; checks payloads against Payload().
ReadResult ReadAll(LogReader& reader, size_t size, size_t max_records = 1 << 20) {
  ReadResult result;
  LogRecord record;
  while (result.offsets.size() < max_records) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) {
      result.status = got.status();
      break;
    }
    if (!*got) break;
    result.offsets.push_back(record.offset);
    if (size != SIZE_MAX) {
      std::vector<uint8_t> want = Payload(record.offset, size);
      if (record.payload.size() != want.size() ||
          !std::equal(want.begin(), want.end(), record.payload.begin())) {
        result.payloads_ok = false;
      }
    }
  }
  return result;
}

ReadResult ReadFrom(const Log& log, StartAt start, size_t size) {
  absl::StatusOr<std::unique_ptr<LogReader>> reader = log.OpenReader(start);
  if (!reader.ok()) return {{}, reader.status(), true};
  return ReadAll(**reader, size);
}

std::vector<uint64_t> Range(uint64_t first, uint64_t end) {
  std::vector<uint64_t> v;
  for (uint64_t o = first; o < end; ++o) v.push_back(o);
  return v;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (fmt::ParseSegmentFileName(e.path().filename().string())) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(LogTest, AppendAndReadRoundTripIncludingEmptyRecords) {
  const std::string dir = TestDir();
  auto log = OpenOrDie(dir, {});
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->earliest_offset(), 0u);
  EXPECT_EQ(log->next_offset(), 0u);
  for (uint64_t o = 0; o < 50; ++o) {
    absl::StatusOr<uint64_t> got = log->Append(Payload(o, o % 7 == 0 ? 0 : 784));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, o);
  }
  EXPECT_EQ(log->next_offset(), 50u);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok()) << reader.status();
  LogRecord record;
  for (uint64_t o = 0; o < 50; ++o) {
    absl::StatusOr<bool> got = (*reader)->Next(&record);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(*got);
    EXPECT_EQ(record.offset, o);
    std::vector<uint8_t> want = Payload(o, o % 7 == 0 ? 0 : 784);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), record.payload.begin(),
                           record.payload.end()));
  }
  absl::StatusOr<bool> end = (*reader)->Next(&record);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);  // caught up
  // The reader tails: new records show up on the next call.
  AppendN(*log, 50, 3, 784);
  ReadResult more = ReadAll(**reader, 784);
  EXPECT_TRUE(more.status.ok()) << more.status;
  EXPECT_EQ(more.offsets, Range(50, 53));
  EXPECT_EQ(log->recovery().truncated_bytes, 0u);
}

TEST(LogTest, RotatesSegmentsNamedByBaseOffset) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 100);  // 4 records per segment
  auto log = OpenOrDie(dir, options);
  AppendN(*log, 0, 10, 100);
  EXPECT_EQ(log->segment_count(), 3u);
  std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(fs::path(files[0]).filename(), "00000000000000000000.log");
  EXPECT_EQ(fs::path(files[1]).filename(), "00000000000000000004.log");
  EXPECT_EQ(fs::path(files[2]).filename(), "00000000000000000008.log");
  EXPECT_EQ(fs::file_size(files[0]), options.segment_bytes);
  ReadResult all = ReadFrom(*log, StartAt::Earliest(), 100);
  EXPECT_TRUE(all.status.ok()) << all.status;
  EXPECT_TRUE(all.payloads_ok);
  EXPECT_EQ(all.offsets, Range(0, 10));
}

TEST(LogTest, OversizedRecordGetsItsOwnSegment) {
  const std::string dir = TestDir();
  LogOptions options;
  options.segment_bytes = 256;
  auto log = OpenOrDie(dir, options);
  AppendN(*log, 0, 1, 10);
  AppendN(*log, 1, 1, 1000);  // larger than a segment: written alone
  AppendN(*log, 2, 1, 10);
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), SIZE_MAX).offsets, Range(0, 3));
}

TEST(LogTest, BatchAppendSplitsAtSegmentBoundaries) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(5, 64);
  auto log = OpenOrDie(dir, options);
  std::vector<std::vector<uint8_t>> data;
  for (uint64_t o = 0; o < 23; ++o) data.push_back(Payload(o, 64));
  std::vector<absl::Span<const uint8_t>> spans(data.begin(), data.end());
  absl::StatusOr<uint64_t> first = log->AppendBatch(spans);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(log->next_offset(), 23u);
  EXPECT_EQ(log->segment_count(), 5u);
  for (const std::string& f : SegmentFiles(dir)) {
    EXPECT_LE(fs::file_size(f), options.segment_bytes) << f;
  }
  first = log->AppendBatch(absl::MakeConstSpan(spans).subspan(0, 2));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 23u);
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), SIZE_MAX).offsets, Range(0, 25));
}

TEST(LogTest, ReopenContinuesOffsets) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(3, 50);
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 7, 50);
  }
  {
    auto log = OpenOrDie(dir, options);
    EXPECT_EQ(log->recovery().truncated_bytes, 0u);
    EXPECT_EQ(log->recovery().segments, 3u);
    EXPECT_EQ(log->next_offset(), 7u);
    AppendN(*log, 7, 5, 50);
  }
  auto log = OpenOrDie(dir, options);
  ReadResult all = ReadFrom(*log, StartAt::Earliest(), 50);
  EXPECT_TRUE(all.payloads_ok);
  EXPECT_EQ(all.offsets, Range(0, 12));
}

TEST(LogTest, ReopenOfAnEmptyLog) {
  const std::string dir = TestDir();
  { auto log = OpenOrDie(dir, {}); }
  auto log = OpenOrDie(dir, {});
  EXPECT_EQ(log->next_offset(), 0u);
  AppendN(*log, 0, 1, 8);
}

TEST(LogTest, SecondWriterOnTheSameDirectoryIsRefused) {
  const std::string dir = TestDir();
  auto log = OpenOrDie(dir, {});
  absl::StatusOr<std::unique_ptr<Log>> second = Log::Open(dir, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "already open"));
  log.reset();
  EXPECT_TRUE(Log::Open(dir, {}).ok());
}

TEST(LogTest, RejectsBadOptionsAndOversizedRecords) {
  LogOptions tiny;
  tiny.segment_bytes = 10;
  EXPECT_EQ(Log::Open(TestDir("a"), tiny).status().code(),
            absl::StatusCode::kInvalidArgument);
  LogOptions zero_n;
  zero_n.fsync = FsyncPolicy::EveryN(0);
  EXPECT_EQ(Log::Open(TestDir("b"), zero_n).status().code(),
            absl::StatusCode::kInvalidArgument);
  LogOptions small;
  small.max_record_bytes = 100;
  auto log = OpenOrDie(TestDir("c"), small);
  EXPECT_EQ(log->Append(Payload(0, 101)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->next_offset(), 0u);
}

TEST(LogTest, StartAtEarliestLatestAndOffset) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 20);
  auto log = OpenOrDie(dir, options);
  AppendN(*log, 0, 10, 20);
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), 20).offsets, Range(0, 10));
  for (uint64_t start : {0, 1, 3, 4, 5, 8, 9, 10}) {
    ReadResult r = ReadFrom(*log, StartAt::Offset(start), 20);
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.offsets, Range(start, 10)) << "start " << start;
  }
  auto latest = log->OpenReader(StartAt::Latest());
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(ReadAll(**latest, 20).offsets.empty());
  AppendN(*log, 10, 6, 20);  // crosses into a new segment
  EXPECT_EQ(ReadAll(**latest, 20).offsets, Range(10, 16));

  absl::StatusOr<std::unique_ptr<LogReader>> beyond =
      log->OpenReader(StartAt::Offset(17));
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(beyond.status().message(), "not been written"));
}

TEST(LogTest, ReaderOutlivesItsLog) {
  const std::string dir = TestDir();
  auto log = OpenOrDie(dir, {});
  AppendN(*log, 0, 5, 30);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok());
  log.reset();
  EXPECT_EQ(ReadAll(**reader, 30).offsets, Range(0, 5));
}

// Writes records [0, total) as a mix of single appends and batches of 7.
absl::Status WriteMixed(Log& log, uint64_t total) {
  std::vector<std::vector<uint8_t>> batch;
  for (uint64_t o = 0; o < total;) {
    if (o % 3 == 0) {
      TB_RETURN_IF_ERROR(log.Append(Payload(o, 300 + o % 500)).status());
      ++o;
      continue;
    }
    batch.clear();
    for (uint64_t k = 0; k < 7 && o + k < total; ++k) {
      batch.push_back(Payload(o + k, 300 + (o + k) % 500));
    }
    std::vector<absl::Span<const uint8_t>> spans(batch.begin(), batch.end());
    TB_RETURN_IF_ERROR(log.AppendBatch(spans).status());
    o += batch.size();
  }
  return absl::OkStatus();
}

// A reader on another thread tails a writer that rotates segments; it must see
// every record, in order, intact (no torn reads of records being written).
// The assertions run on the test's thread; the writer only reports its
// status, and the reader gives up at a deadline instead of spinning forever.
TEST(LogTest, ReaderTailsAConcurrentWriter) {
  const std::string dir = TestDir();
  LogOptions options;
  options.segment_bytes = 64 << 10;
  auto log = OpenOrDie(dir, options);
  constexpr uint64_t kTotal = 3000;
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok());
  absl::Mutex mu;
  absl::Status written = absl::UnknownError("still writing");
  bool writer_done = false;
  std::thread writer([&] {
    absl::Status s = WriteMixed(*log, kTotal);
    absl::MutexLock lock(&mu);
    written = s;
    writer_done = true;
  });
  // Joined on every path, also when an assertion below returns early.
  absl::Cleanup join_writer = [&writer] { writer.join(); };
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  uint64_t expected = 0;
  LogRecord record;
  while (expected < kTotal) {
    absl::StatusOr<bool> got = (*reader)->Next(&record);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) {
      {
        absl::MutexLock lock(&mu);
        ASSERT_TRUE(!writer_done || written.ok())
            << "the writer failed after " << expected << " records: "
            << written;
      }
      ASSERT_LT(absl::Now(), deadline)
          << "the reader saw " << expected << " of " << kTotal
          << " records within 60 s";
      (*reader)->WaitForData(absl::Milliseconds(100));  // caught up
      continue;
    }
    ASSERT_EQ(record.offset, expected);
    std::vector<uint8_t> want = Payload(expected, 300 + expected % 500);
    ASSERT_TRUE(std::equal(want.begin(), want.end(), record.payload.begin(),
                           record.payload.end()));
    ++expected;
  }
  std::move(join_writer).Invoke();
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_GT(log->segment_count(), 3u);
  EXPECT_EQ((*reader)->records_lost(), 0u);
}

TEST(LogTest, WaitForDataWakesOnAppend) {
  const std::string dir = TestDir();
  auto log = OpenOrDie(dir, {});
  auto reader = log->OpenReader(StartAt::Latest());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->WaitForData(absl::ZeroDuration()));
  std::thread writer([&log] { AppendN(*log, 0, 1, 10); });
  // Returns as soon as the append lands; the long timeout is only a backstop.
  EXPECT_TRUE((*reader)->WaitForData(absl::Seconds(60)));
  writer.join();
  EXPECT_EQ(ReadAll(**reader, 10).offsets, Range(0, 1));
  EXPECT_FALSE((*reader)->WaitForData(absl::ZeroDuration()));
}

// Cuts the only segment at several places inside the last record: reopening
// keeps every whole record, reports the cut, and appends continue.
TEST(LogTest, TornTailIsTruncatedOnReopen) {
  const size_t kSize = 100;
  const size_t kRecord = kRec + kSize;
  const uint64_t full_size = kSeg + 5 * kRecord;
  // Cut points inside record 4 (the last): in the header, at the payload
  // start, mid payload, one byte short; and one that keeps everything.
  const std::vector<uint64_t> cuts = {
      kSeg + 4 * kRecord + 1, kSeg + 4 * kRecord + 10, kSeg + 4 * kRecord + kRec,
      kSeg + 4 * kRecord + kRec + 50, full_size - 1, full_size};
  for (uint64_t cut : cuts) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    const std::string dir = TestDir(absl::StrCat("_", cut));
    {
      auto log = OpenOrDie(dir, {});
      AppendN(*log, 0, 5, kSize);
    }
    const std::string seg = SegmentFiles(dir)[0];
    ASSERT_EQ(fs::file_size(seg), full_size);
    fs::resize_file(seg, cut);
    auto log = OpenOrDie(dir, {});
    ASSERT_NE(log, nullptr);
    const bool whole = cut == full_size;
    EXPECT_EQ(log->recovery().truncated_bytes, whole ? 0 : cut - (kSeg + 4 * kRecord));
    EXPECT_EQ(log->next_offset(), whole ? 5u : 4u);
    EXPECT_EQ(fs::file_size(seg), whole ? full_size : kSeg + 4 * kRecord);
    const uint64_t next = log->next_offset();
    AppendN(*log, next, 2, kSize);
    ReadResult all = ReadFrom(*log, StartAt::Earliest(), kSize);
    EXPECT_TRUE(all.status.ok()) << all.status;
    EXPECT_TRUE(all.payloads_ok);
    EXPECT_EQ(all.offsets, Range(0, next + 2));
  }
}

TEST(LogTest, TornTailWithBadCrcAndTornSegmentHeader) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(3, 10);
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 5, 10);  // segments at 0 and 3
  }
  // The last record's payload is garbage (written out of order by the disk).
  std::string last = SegmentFiles(dir).back();
  std::vector<uint8_t> bytes = ReadFile(last);
  bytes.back() ^= 0xFF;
  WriteFile(last, bytes);
  {
    auto log = OpenOrDie(dir, options);
    EXPECT_EQ(log->recovery().truncated_bytes, kRec + 10);
    EXPECT_EQ(log->recovery().truncated_segment, last);
    EXPECT_TRUE(absl::StrContains(log->recovery().ToString(), "torn tail"));
    EXPECT_EQ(log->next_offset(), 4u);
  }
  // A segment whose header never reached the disk is started again.
  const std::string stray = dir + "/" + fmt::SegmentFileName(4);
  WriteFile(stray, {1, 2, 3});
  auto log = OpenOrDie(dir, options);
  EXPECT_EQ(log->recovery().truncated_bytes, 3u);
  EXPECT_EQ(log->next_offset(), 4u);
  AppendN(*log, 4, 3, 10);
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), 10).offsets, Range(0, 7));
}

// Damages record 5 of 12 (in the middle of segment 1 of 3).
std::string MakeLogWithCorruptRecord(const std::string& dir, LogOptions options,
                                     int payload_byte) {
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 12, 40);
  }
  const std::string seg = SegmentFiles(dir)[1];  // offsets 4..7
  std::vector<uint8_t> bytes = ReadFile(seg);
  const size_t record5 = kSeg + 1 * (kRec + 40);
  bytes[record5 + kRec + payload_byte] ^= 0x01;
  WriteFile(seg, bytes);
  return seg;
}

TEST(LogTest, CorruptRecordInTheMiddleIsSkippedUnderKSkip) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 40);
  options.on_corruption = OnCorruption::kSkip;
  const std::string seg = MakeLogWithCorruptRecord(dir, options, 17);
  auto log = OpenOrDie(dir, options);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok());
  ReadResult all = ReadAll(**reader, 40);
  EXPECT_TRUE(all.status.ok()) << all.status;
  std::vector<uint64_t> want = Range(0, 12);
  want.erase(want.begin() + 5);
  EXPECT_EQ(all.offsets, want);
  EXPECT_EQ((*reader)->records_lost(), 1u);
  ASSERT_EQ((*reader)->corruption_events().size(), 1u);
  const CorruptionEvent& event = (*reader)->corruption_events()[0];
  EXPECT_EQ(event.first_offset, 5u);
  EXPECT_EQ(event.records_lost, 1u);
  EXPECT_EQ(event.segment, seg);
  EXPECT_EQ(event.file_position, kSeg + kRec + 40);
  EXPECT_TRUE(absl::StrContains(event.reason, "CRC"));
  // Appends are unaffected.
  AppendN(*log, 12, 1, 40);
  EXPECT_EQ(ReadAll(**reader, 40).offsets, Range(12, 13));
}

TEST(LogTest, CorruptRecordInTheMiddleStopsTheReaderUnderKStop) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 40);
  options.on_corruption = OnCorruption::kStop;
  MakeLogWithCorruptRecord(dir, options, 0);
  auto log = OpenOrDie(dir, options);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok());
  ReadResult all = ReadAll(**reader, 40);
  EXPECT_EQ(all.offsets, Range(0, 5));
  EXPECT_EQ(all.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(all.status.message(), "CRC")) << all.status;
  EXPECT_TRUE(absl::StrContains(all.status.message(), "expected offset 5"));
  EXPECT_TRUE(absl::StrContains(all.status.message(), "kSkip"));
  // The error is final.
  LogRecord record;
  EXPECT_EQ((*reader)->Next(&record).status().code(), absl::StatusCode::kDataLoss);
  // Starting past the damage works.
  EXPECT_EQ(ReadFrom(*log, StartAt::Offset(8), 40).offsets, Range(8, 12));
}

TEST(LogTest, CorruptLengthFieldIsSkippedUnderKSkip) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 40);
  options.on_corruption = OnCorruption::kSkip;
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 12, 40);
  }
  const std::string seg = SegmentFiles(dir)[1];
  std::vector<uint8_t> bytes = ReadFile(seg);
  bytes[kSeg + 4] = 0xFF;  // length of record 4: 40 -> 255
  WriteFile(seg, bytes);
  auto log = OpenOrDie(dir, options);
  ReadResult all = ReadFrom(*log, StartAt::Earliest(), 40);
  std::vector<uint64_t> want = Range(0, 12);
  want.erase(want.begin() + 4);
  EXPECT_EQ(all.offsets, want);
}

TEST(LogTest, CorruptionInTheMiddleOfTheLastSegmentIsNotTruncated) {
  const std::string dir = TestDir();
  LogOptions options;
  options.on_corruption = OnCorruption::kSkip;
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 6, 40);
  }
  const std::string seg = SegmentFiles(dir)[0];
  std::vector<uint8_t> bytes = ReadFile(seg);
  bytes[kSeg + 2 * (kRec + 40) + kRec + 3] ^= 0x80;  // record 2's payload
  WriteFile(seg, bytes);
  auto log = OpenOrDie(dir, options);
  EXPECT_EQ(log->recovery().truncated_bytes, 0u);
  EXPECT_EQ(log->recovery().corrupt_regions, 1u);
  EXPECT_EQ(log->next_offset(), 6u);
  AppendN(*log, 6, 1, 40);
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), 40).offsets,
            (std::vector<uint64_t>{0, 1, 3, 4, 5, 6}));
}

TEST(LogTest, MissingMiddleSegmentIsAGap) {
  const std::string dir = TestDir();
  LogOptions options = SegmentsOf(4, 10);
  {
    auto log = OpenOrDie(dir, options);
    AppendN(*log, 0, 12, 10);
  }
  fs::remove(SegmentFiles(dir)[1]);
  options.on_corruption = OnCorruption::kStop;
  {
    auto log = OpenOrDie(dir, options);
    ReadResult r = ReadFrom(*log, StartAt::Earliest(), 10);
    EXPECT_EQ(r.offsets, Range(0, 4));
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE(absl::StrContains(r.status.message(), "next one starts at 8"))
        << r.status;
  }
  options.on_corruption = OnCorruption::kSkip;
  auto log = OpenOrDie(dir, options);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok());
  std::vector<uint64_t> want = Range(0, 4);
  for (uint64_t o = 8; o < 12; ++o) want.push_back(o);
  EXPECT_EQ(ReadAll(**reader, 10).offsets, want);
  EXPECT_EQ((*reader)->records_lost(), 4u);
}

// A segment named for the last offsets (found by //fuzz:log_fuzzer, whose
// corpus keeps the input): appends stop before the offset after the last
// record would wrap to 0, and the records before that are read.
// A disk that fills up mid-append, simulated by the file size limit (EFBIG;
// SIGXFSZ ignored, as a tmpfs or loop mount needs root): the error says what
// happened and what is stored, the partial record is taken back, and a
// reopened log has every record before it.
TEST(LogTest, AFullDiskIsAClearErrorAndKeepsWhatWasStored) {
  const std::string dir = TestDir();
  constexpr size_t kSize = 1000;
  {
    std::unique_ptr<Log> log = OpenOrDie(dir, SegmentsOf(1000, kSize));
    ASSERT_NE(log, nullptr);
    AppendN(*log, 0, 5, kSize);
    absl::StatusOr<uint64_t> got;
    uint64_t next = 5;
    {
      base::FileSizeLimit full(kSeg + 10 * (kRec + kSize) + kSize / 2);
      ASSERT_TRUE(full.ok());
      while ((got = log->Append(Payload(next, kSize))).ok()) ++next;
    }
    EXPECT_EQ(next, 10u);
    EXPECT_THAT(std::string(got.status().message()),
                ::testing::AllOf(::testing::HasSubstr(dir),
                                 ::testing::HasSubstr("ulimit -f"),
                                 ::testing::HasSubstr("records up to offset 9 are stored")));
    // The log still works once there is room again.
    AppendN(*log, 10, 1, kSize);
  }
  std::unique_ptr<Log> log = OpenOrDie(dir, SegmentsOf(1000, kSize));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery().truncated_bytes, 0u);
  ReadResult r = ReadFrom(*log, StartAt::Earliest(), kSize);
  EXPECT_EQ(r.offsets, Range(0, 11));
  EXPECT_TRUE(r.payloads_ok);
}

TEST(LogTest, OffsetsStopBelowTheTopOfTheRange) {
  const std::string dir = TestDir();
  fs::create_directories(dir);
  // Torn at creation (shorter than a header): Open starts it again.
  std::ofstream(dir + "/" + fmt::SegmentFileName(UINT64_MAX - 1)).put('T');
  auto log = OpenOrDie(dir, LogOptions());
  ASSERT_NE(log, nullptr);
  absl::StatusOr<uint64_t> last = log->Append(Payload(1, 5));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, UINT64_MAX - 1);
  const absl::Status full = log->Append(Payload(2, 5)).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_TRUE(absl::StrContains(full.message(), "offsets are used up")) << full;
  const std::vector<uint8_t> p = Payload(3, 5);
  const absl::Span<const uint8_t> batch[] = {p};
  EXPECT_EQ(log->AppendBatch(batch).status().code(),
            absl::StatusCode::kResourceExhausted);
  auto reader = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(reader.ok()) << reader.status();
  LogRecord record;
  absl::StatusOr<bool> got = (*reader)->Next(&record);
  ASSERT_TRUE(got.ok() && *got) << got.status();
  EXPECT_EQ(record.offset, UINT64_MAX - 1);
  got = (*reader)->Next(&record);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(*got);
}

TEST(LogTest, RetentionBySizeDeletesOldSegmentsAndReadersSeeWhy) {
  const std::string dir = TestDir();
  LogOptions options;
  const uint64_t seg_bytes = kSeg + 4 * (kRec + 100);
  options.segment_bytes = seg_bytes;
  options.retention.max_bytes = 3 * seg_bytes;
  auto log = OpenOrDie(dir, options);
  AppendN(*log, 0, 6, 100);
  auto early = log->OpenReader(StartAt::Earliest());
  ASSERT_TRUE(early.ok());
  // Read two records, then let retention delete the segment under the reader.
  EXPECT_EQ(ReadAll(**early, 100, 2).offsets, Range(0, 2));
  AppendN(*log, 6, 14, 100);  // 20 records = 5 segments; keeps 3
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(log->earliest_offset(), 8u);
  EXPECT_LE(log->size_bytes(), options.retention.max_bytes);
  EXPECT_EQ(SegmentFiles(dir).size(), 3u);
  ReadResult r = ReadAll(**early, 100);
  EXPECT_TRUE(r.offsets.empty());
  EXPECT_EQ(r.status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(
      r.status.message(),
      "offset 2 was deleted by retention; earliest is 8; restart from"))
      << r.status;
  absl::StatusOr<std::unique_ptr<LogReader>> old = log->OpenReader(StartAt::Offset(3));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(old.status().message(), "earliest is 8"));
  EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), 100).offsets, Range(8, 20));
  // A reader that finished a segment before it was deleted just moves on.
  auto follower = log->OpenReader(StartAt::Offset(12));
  ASSERT_TRUE(follower.ok());
  EXPECT_EQ(ReadAll(**follower, 100).offsets, Range(12, 20));
  AppendN(*log, 20, 4, 100);
  EXPECT_EQ(log->earliest_offset(), 12u);
  EXPECT_EQ(ReadAll(**follower, 100).offsets, Range(20, 24));
  // Retention also runs on Open.
  log.reset();
  options.retention.max_bytes = 1;
  log = OpenOrDie(dir, options);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->earliest_offset(), 20u);
}

TEST(LogTest, RetentionByAgeUsesTheInjectedClock) {
  const std::string dir = TestDir();
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  LogOptions options;
  options.clock = [&now] { return now; };
  options.segment_bytes = kSeg + 4 * (kRec + 100);
  options.retention.max_age = absl::Minutes(15);
  auto log = OpenOrDie(dir, options);
  AppendN(*log, 0, 4, 100);  // segment 0, created at T
  now += absl::Minutes(10);
  AppendN(*log, 4, 4, 100);  // segment 4, created at T+10
  now += absl::Minutes(10);
  AppendN(*log, 8, 4, 100);  // segment 8, created at T+20
  EXPECT_EQ(log->segment_count(), 3u);
  now += absl::Minutes(4);  // T+24: segment 0's records are <= 14 min old
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_EQ(log->earliest_offset(), 0u);
  now += absl::Minutes(1);  // T+25
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_EQ(log->earliest_offset(), 4u);
  now += absl::Minutes(10);  // T+35
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_EQ(log->earliest_offset(), 8u);
  now += absl::Hours(10);  // the active segment is never deleted
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_EQ(log->earliest_offset(), 8u);
  ReadResult r = ReadFrom(*log, StartAt::Earliest(), 100);
  EXPECT_EQ(r.offsets, Range(8, 12));
  // Record timestamps come from the same clock.
  auto reader = log->OpenReader(StartAt::Offset(8));
  LogRecord record;
  ASSERT_TRUE(*(*reader)->Next(&record));
  EXPECT_EQ(record.append_time, absl::FromUnixSeconds(1'700'000'000) + absl::Minutes(20));
}

TEST(LogTest, FsyncPoliciesAllWork) {
  const std::vector<FsyncPolicy> policies = {
      FsyncPolicy::Never(), FsyncPolicy::EveryN(3), FsyncPolicy::EveryAppend(),
      FsyncPolicy::Interval(absl::Milliseconds(1))};
  int i = 0;
  for (const FsyncPolicy& policy : policies) {
    const std::string dir = TestDir(absl::StrCat("_", i++));
    LogOptions options;
    options.fsync = policy;
    options.segment_bytes = kSeg + 4 * (kRec + 16);
    {
      auto log = OpenOrDie(dir, options);
      AppendN(*log, 0, 10, 16);
      EXPECT_TRUE(log->Sync().ok());
    }
    auto log = OpenOrDie(dir, options);
    EXPECT_EQ(ReadFrom(*log, StartAt::Earliest(), 16).offsets, Range(0, 10));
  }
}

// Random damage to random files of a multi-segment log: open, read and append
// must return errors or data, never crash or loop forever.
TEST(LogTest, RandomCorruptionNeverCrashes) {
  const std::string pristine = TestDir("_pristine");
  LogOptions options;
  options.segment_bytes = 2048;
  options.max_record_bytes = 4096;
  {
    auto log = OpenOrDie(pristine, options);
    std::mt19937 sizes(1);
    for (uint64_t o = 0; o < 60; ++o) {
      ASSERT_TRUE(log->Append(Payload(o, sizes() % 300)).ok());
    }
  }
  std::mt19937 rng(12345);
  int opened = 0, read_errors = 0;
  for (int iter = 0; iter < 150; ++iter) {
    const std::string dir = TestDir("_fuzz");
    fs::copy(pristine, dir);
    fs::remove(dir + "/LOCK");
    std::vector<std::string> files = SegmentFiles(dir);
    const int damages = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < damages; ++d) {
      const std::string& file = files[rng() % files.size()];
      std::vector<uint8_t> bytes = ReadFile(file);
      switch (rng() % 5) {
        case 0:  // flip bits
          if (!bytes.empty()) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
          break;
        case 1:  // random run of garbage
          if (!bytes.empty()) {
            size_t at = rng() % bytes.size();
            for (size_t k = 0; k < 1 + rng() % 64 && at + k < bytes.size(); ++k) {
              bytes[at + k] = static_cast<uint8_t>(rng());
            }
          }
          break;
        case 2:  // truncate
          bytes.resize(bytes.empty() ? 0 : rng() % bytes.size());
          break;
        case 3:  // garbage tail
          for (int k = 0; k < 1 + static_cast<int>(rng() % 100); ++k) {
            bytes.push_back(static_cast<uint8_t>(rng()));
          }
          break;
        case 4:  // huge length field somewhere
          if (bytes.size() > 8) {
            size_t at = rng() % (bytes.size() - 4);
            bytes[at] = bytes[at + 1] = bytes[at + 2] = bytes[at + 3] = 0xFF;
          }
          break;
      }
      WriteFile(file, bytes);
    }
    for (OnCorruption policy : {OnCorruption::kSkip, OnCorruption::kStop}) {
      LogOptions o = options;
      o.on_corruption = policy;
      absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
      if (!log.ok()) {
        // Only a damaged header of the last segment refuses to open.
        EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << log.status();
        continue;
      }
      ++opened;
      for (StartAt start : {StartAt::Earliest(), StartAt::Offset(30)}) {
        absl::StatusOr<std::unique_ptr<LogReader>> reader = (*log)->OpenReader(start);
        if (!reader.ok()) continue;
        ReadResult r = ReadAll(**reader, SIZE_MAX, 1000);
        EXPECT_LT(r.offsets.size(), 1000u);  // terminates
        for (size_t k = 1; k < r.offsets.size(); ++k) {
          EXPECT_LT(r.offsets[k - 1], r.offsets[k]);  // strictly increasing
        }
        if (!r.status.ok()) ++read_errors;
        if (policy == OnCorruption::kSkip) {
          EXPECT_TRUE(r.status.ok()) << r.status;
        }
      }
      const uint64_t next = (*log)->next_offset();
      auto tail = (*log)->OpenReader(StartAt::Latest());
      ASSERT_TRUE(tail.ok()) << tail.status();
      absl::StatusOr<uint64_t> appended = (*log)->Append(Payload(next, 10));
      ASSERT_TRUE(appended.ok()) << appended.status();
      EXPECT_EQ(*appended, next);
      EXPECT_EQ(ReadAll(**tail, 10).offsets, Range(next, next + 1));
    }
    fs::remove_all(dir);
  }
  EXPECT_GT(opened, 100);
  EXPECT_GT(read_errors, 0);  // kStop met damage at least sometimes
}

}  // namespace
}  // namespace trainbus::bus
