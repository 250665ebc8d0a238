// route_guide client: calls each of the four kinds of RPC once, like gRPC's classic example.
//
//   route_guide_client [--target 127.0.0.1:50051] [--db_path route_guide_db.json]
//                      [--points 10] [--seed 1] [--delay_ms 20]
//
// GetFeature (unary), ListFeatures (server streaming), RecordRoute (client streaming) and
// RouteChat (bidi: one thread writes the notes while this thread reads the replies on the same
// stream). Exits 0 if all four succeeded.

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "h2rpc.h"
#include "route_guide.h2rpc.h"
#include "route_guide.pb.h"
#include "route_guide_db.h"

#include "common/example_util.h"

namespace {

using routeguide::Feature;
using routeguide::Point;
using routeguide::Rectangle;
using routeguide::RouteNote;
using routeguide::RouteSummary;

/// Bound on each call, so that a stuck server ends the program instead of hanging it.
constexpr std::chrono::seconds kCallTimeout{20};

Point MakePoint(int32_t latitude, int32_t longitude) {
  Point p;
  p.set_latitude(latitude);
  p.set_longitude(longitude);
  return p;
}

RouteNote MakeNote(const std::string& message, int32_t latitude, int32_t longitude) {
  RouteNote n;
  n.set_message(message);
  *n.mutable_location() = MakePoint(latitude, longitude);
  return n;
}

class RouteGuideClient {
 public:
  RouteGuideClient(std::shared_ptr<h2rpc::Channel> channel, std::vector<Feature> features)
      : stub_(routeguide::RouteGuide::NewStub(channel)), features_(std::move(features)) {}

  bool GetFeature(const Point& point) {
    h2rpc::ClientContext context;
    context.set_timeout(kCallTimeout);
    Feature feature;
    h2rpc::Status status = stub_->GetFeature(&context, point, &feature);
    if (!status.ok()) {
      std::printf("GetFeature rpc failed: %s\n", status.ToString().c_str());
      return false;
    }
    if (!feature.has_location()) {
      std::printf("Server returns incomplete feature.\n");
      return false;
    }
    if (feature.name().empty()) {
      std::printf("Found no feature at %s\n", route_guide::FormatPoint(feature.location()).c_str());
    } else {
      std::printf("Found feature called \"%s\" at %s\n", feature.name().c_str(),
                  route_guide::FormatPoint(feature.location()).c_str());
    }
    return true;
  }

  bool ListFeatures() {
    Rectangle rect;
    *rect.mutable_lo() = MakePoint(400000000, -750000000);
    *rect.mutable_hi() = MakePoint(420000000, -730000000);
    std::printf("Looking for features between 40, -75 and 42, -73\n");
    h2rpc::ClientContext context;
    context.set_timeout(kCallTimeout);
    std::unique_ptr<h2rpc::ClientReader<Feature>> reader = stub_->ListFeatures(&context, rect);
    Feature feature;
    int count = 0;
    while (reader->Read(&feature)) {
      ++count;
      std::printf("Found feature called \"%s\" at %s\n", feature.name().c_str(),
                  route_guide::FormatPoint(feature.location()).c_str());
    }
    h2rpc::Status status = reader->Finish();
    if (!status.ok()) {
      std::printf("ListFeatures rpc failed: %s\n", status.ToString().c_str());
      return false;
    }
    std::printf("ListFeatures rpc succeeded: %d features.\n", count);
    return true;
  }

  bool RecordRoute(int points, unsigned seed, int max_delay_ms) {
    if (features_.empty()) {
      std::printf("RecordRoute needs a non-empty database.\n");
      return false;
    }
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, features_.size() - 1);
    std::uniform_int_distribution<int> delay(0, max_delay_ms);

    h2rpc::ClientContext context;
    context.set_timeout(kCallTimeout);
    RouteSummary summary;
    std::unique_ptr<h2rpc::ClientWriter<Point>> writer = stub_->RecordRoute(&context, &summary);
    for (int i = 0; i < points; ++i) {
      const Feature& f = features_[pick(rng)];
      std::printf("Visiting point %s\n", route_guide::FormatPoint(f.location()).c_str());
      if (!writer->Write(f.location())) break;  // the call is over; Finish() says why
      std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
    }
    writer->WritesDone();
    h2rpc::Status status = writer->Finish();
    if (!status.ok()) {
      std::printf("RecordRoute rpc failed: %s\n", status.ToString().c_str());
      return false;
    }
    std::printf(
        "Finished trip with %d points\nPassed %d features\nTravelled %d meters\n"
        "It took %d seconds\n",
        summary.point_count(), summary.feature_count(), summary.distance(), summary.elapsed_time());
    return true;
  }

  bool RouteChat() {
    h2rpc::ClientContext context;
    context.set_timeout(kCallTimeout);
    std::unique_ptr<h2rpc::ClientReaderWriter<RouteNote, RouteNote>> stream =
        stub_->RouteChat(&context);

    // The concurrency contract: this thread writes while the main thread reads, same stream.
    std::thread writer([stream = stream.get()] {
      const RouteNote notes[] = {MakeNote("First message", 0, 0), MakeNote("Second message", 0, 1),
                                 MakeNote("Third message", 1, 0), MakeNote("Fourth message", 0, 0)};
      for (const RouteNote& note : notes) {
        std::printf("Sending message %s at %d, %d\n", note.message().c_str(),
                    note.location().latitude(), note.location().longitude());
        std::fflush(stdout);
        if (!stream->Write(note)) break;
      }
      stream->WritesDone();
    });

    RouteNote server_note;
    int received = 0;
    while (stream->Read(&server_note)) {
      ++received;
      std::printf("Got message %s at %d, %d\n", server_note.message().c_str(),
                  server_note.location().latitude(), server_note.location().longitude());
      std::fflush(stdout);
    }
    writer.join();
    h2rpc::Status status = stream->Finish();
    if (!status.ok()) {
      std::printf("RouteChat rpc failed: %s\n", status.ToString().c_str());
      return false;
    }
    std::printf("RouteChat rpc succeeded: %d notes received.\n", received);
    return true;
  }

 private:
  std::unique_ptr<routeguide::RouteGuide::Stub> stub_;
  std::vector<Feature> features_;
};

}  // namespace

int main(int argc, char** argv) {
  examples::Flags flags(argc, argv,
                        {{"target", "127.0.0.1:50051", "server address"},
                         {"db_path", route_guide::kDefaultDbPath, "features database (JSON)"},
                         {"points", "10", "points sent by RecordRoute"},
                         {"seed", "1", "seed choosing RecordRoute's points"},
                         {"delay_ms", "20", "longest pause between RecordRoute's points"}});
  std::vector<Feature> features;
  std::string error;
  if (!route_guide::LoadFeatures(flags.Get("db_path"), &features, &error)) {
    std::fprintf(stderr, "route_guide_client: %s\n", error.c_str());
    return 1;
  }
  const Point first = features.empty() ? MakePoint(0, 0) : features.front().location();

  RouteGuideClient guide(h2rpc::CreateChannel(flags.Get("target")), std::move(features));
  bool ok = true;
  std::printf("-------------- GetFeature --------------\n");
  ok = guide.GetFeature(first) && ok;
  ok = guide.GetFeature(MakePoint(0, 0)) && ok;
  std::printf("-------------- ListFeatures --------------\n");
  ok = guide.ListFeatures() && ok;
  std::printf("-------------- RecordRoute --------------\n");
  ok = guide.RecordRoute(static_cast<int>(flags.GetInt("points", 1, 10000)),
                         static_cast<unsigned>(flags.GetInt("seed", 0, 1L << 31)),
                         static_cast<int>(flags.GetInt("delay_ms", 0, 10000))) &&
       ok;
  std::printf("-------------- RouteChat --------------\n");
  ok = guide.RouteChat() && ok;
  std::printf("%s\n", ok ? "All four calls succeeded." : "Some calls failed.");
  return ok ? 0 : 1;
}
