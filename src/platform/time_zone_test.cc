// IANA time zones from the system's TZif files: offsets across DST, wall times to UTC.
#include "platform/time_zone.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

Timestamp at(const char* text) { return *parse_rfc3339(text); }

TEST(TimeZone, NamesHaveTheShapeOfIanaNames) {
  EXPECT_TRUE(is_zone_name_shape("Europe/Berlin"));
  EXPECT_TRUE(is_zone_name_shape("America/Argentina/Buenos_Aires"));
  EXPECT_TRUE(is_zone_name_shape("Etc/GMT+5"));
  EXPECT_TRUE(is_zone_name_shape("UTC"));
  EXPECT_FALSE(is_zone_name_shape(""));
  EXPECT_FALSE(is_zone_name_shape("../etc/passwd"));
  EXPECT_FALSE(is_zone_name_shape("/etc/passwd"));
  EXPECT_FALSE(is_zone_name_shape("Europe/"));
  EXPECT_FALSE(is_zone_name_shape("Europe//Berlin"));
  EXPECT_FALSE(is_zone_name_shape("Europe/Ber lin"));
}

TEST(TimeZone, UnknownAndMalformedZonesAreRefused) {
  EXPECT_FALSE(load_time_zone("Mars/Olympus_Mons").ok());
  EXPECT_FALSE(load_time_zone("Europe").ok());     // a directory
  EXPECT_FALSE(load_time_zone("zone.tab").ok());   // not a TZif file
  EXPECT_FALSE(load_time_zone("../../etc/passwd").ok());
  EXPECT_EQ(load_time_zone("Nowhere/Atall").error().code, "validation_failed");
  EXPECT_FALSE(parse_tzif("x", "TZif2").ok());
}

TEST(TimeZone, OffsetsFollowDaylightSavingTime) {
  struct Case {
    const char* zone;
    const char* utc;
    std::int32_t offset;
  };
  const Case cases[] = {
      {"UTC", "2026-07-01T12:00:00Z", 0},
      {"Europe/Berlin", "2026-01-15T12:00:00Z", 3600},
      {"Europe/Berlin", "2026-07-15T12:00:00Z", 7200},
      {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600},  // the last second of CET
      {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200},  // CEST from 01:00Z (02:00 -> 03:00 local)
      {"Europe/Berlin", "2026-10-25T00:59:59Z", 7200},
      {"Europe/Berlin", "2026-10-25T01:00:00Z", 3600},
      {"America/New_York", "2026-01-15T12:00:00Z", -5 * 3600},
      {"America/New_York", "2026-03-08T07:00:00Z", -4 * 3600},  // EDT from 2 a.m. EST
      {"America/New_York", "2026-11-01T06:00:00Z", -5 * 3600},
      {"Asia/Kolkata", "2026-07-01T00:00:00Z", 5 * 3600 + 1800},
      {"Australia/Sydney", "2026-01-15T00:00:00Z", 11 * 3600},  // southern summer
      {"Australia/Sydney", "2026-07-15T00:00:00Z", 10 * 3600},
      {"Pacific/Kiritimati", "2026-07-15T00:00:00Z", 14 * 3600},
      {"Europe/Berlin", "2040-01-15T00:00:00Z", 3600},  // past the listed transitions (2037): the last offset
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.zone) + " " + c.utc);
    auto zone = load_time_zone(c.zone);
    ASSERT_TRUE(zone.ok()) << zone.error().message;
    EXPECT_EQ((*zone)->offset_at(at(c.utc)), c.offset);
  }
}

TEST(TimeZone, WallTimesToUtcAcrossJumps) {
  auto berlin = *load_time_zone("Europe/Berlin");
  EXPECT_EQ(berlin->utc_of({{2026, 1, 15}, 9 * 3600}), at("2026-01-15T08:00:00Z"));
  EXPECT_EQ(berlin->utc_of({{2026, 7, 15}, 9 * 3600}), at("2026-07-15T07:00:00Z"));
  EXPECT_EQ(berlin->utc_of({{2026, 3, 29}, 9 * 3600}), at("2026-03-29T07:00:00Z"));  // the DST day itself
  // 02:30 does not exist on 29 March: read in CET, it is 03:30 CEST.
  EXPECT_EQ(berlin->utc_of({{2026, 3, 29}, 2 * 3600 + 1800}), at("2026-03-29T01:30:00Z"));
  // 02:30 happens twice on 25 October: the first (CEST).
  EXPECT_EQ(berlin->utc_of({{2026, 10, 25}, 2 * 3600 + 1800}), at("2026-10-25T00:30:00Z"));
  TimeZone utc;
  EXPECT_EQ(utc.utc_of({{2026, 2, 1}, 9 * 3600}), at("2026-02-01T09:00:00Z"));
  auto local = berlin->local(at("2026-07-15T23:30:00Z"));
  EXPECT_EQ(local.date.day, 16u);
  EXPECT_EQ(local.seconds_of_day, 3600 + 1800);
}

TEST(TimeZone, ParsesATzifVersion1File) {
  // A hand-made version 1 file: two types (+0, +3600), one transition at 1000.
  std::string b = "TZif";
  b += '\0';
  b += std::string(15, '\0');
  auto put32 = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xff);
  };
  put32(0); put32(0); put32(0); put32(1); put32(2); put32(4);  // isut, isstd, leap, time, type, char
  put32(1000);
  b += '\1';
  put32(0); b += '\0'; b += '\0';
  put32(3600); b += '\1'; b += '\0';
  b += std::string("XX\0", 3);
  b += '\0';
  auto zone = parse_tzif("Test/Zone", b);
  ASSERT_TRUE(zone.ok()) << zone.error().message;
  EXPECT_EQ(zone->offset_at(999), 0);
  EXPECT_EQ(zone->offset_at(1000), 3600);
  EXPECT_EQ(zone->name(), "Test/Zone");
}

}  // namespace
}  // namespace recur
