// The route_guide features database: a tiny JSON reader for route_guide_db.json and the
// geometry both the client and the server need.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "route_guide.pb.h"

namespace route_guide {

/// Parses gRPC's route_guide database format:
///   [{"location": {"latitude": 407838351, "longitude": -746143763}, "name": "..."}, ...]
/// Unknown keys are ignored; a missing name is an empty name. On malformed input returns false
/// and sets `*error` ("offset 123: expected ':'").
bool ParseFeatures(std::string_view json, std::vector<routeguide::Feature>* features,
                   std::string* error);

/// Reads and parses the file at `path`.
bool LoadFeatures(const std::string& path, std::vector<routeguide::Feature>* features,
                  std::string* error);

/// Great-circle distance in metres between two E7 points (haversine formula).
double DistanceMetres(const routeguide::Point& a, const routeguide::Point& b);

/// True if `p` lies inside the rectangle spanned by `r.lo()` and `r.hi()` (corners in any order).
bool InRectangle(const routeguide::Point& p, const routeguide::Rectangle& r);

/// "40.7838351, -74.6143763".
std::string FormatPoint(const routeguide::Point& p);

/// Built-in default of --db_path: the data file next to the sources (set by meson).
#ifdef ROUTE_GUIDE_DEFAULT_DB
inline constexpr const char* kDefaultDbPath = ROUTE_GUIDE_DEFAULT_DB;
#else
inline constexpr const char* kDefaultDbPath = "route_guide_db.json";
#endif

}  // namespace route_guide
