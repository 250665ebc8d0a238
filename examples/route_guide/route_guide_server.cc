// route_guide server: one method of each kind over a features database.
//
//   route_guide_server [--listen 127.0.0.1:50051] [--db_path route_guide_db.json]
//
// Every call runs on its own handler thread: the database is read-only, and the notes RouteChat
// keeps are shared between calls, so they are guarded by a mutex. Server reflection is on, so
// grpcurl or buf curl can call it without route_guide.proto.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "h2rpc.h"
#include "route_guide.h2rpc.h"
#include "route_guide.pb.h"
#include "route_guide_db.h"
#include "services/reflection/reflection_service.h"

#include "common/example_util.h"

namespace {

using routeguide::Feature;
using routeguide::Point;
using routeguide::Rectangle;
using routeguide::RouteNote;
using routeguide::RouteSummary;

bool SamePoint(const Point& a, const Point& b) {
  return a.latitude() == b.latitude() && a.longitude() == b.longitude();
}

class RouteGuideImpl final : public routeguide::RouteGuide::Service {
 public:
  explicit RouteGuideImpl(std::vector<Feature> features) : features_(std::move(features)) {}

  h2rpc::Status GetFeature(h2rpc::ServerContext* /*context*/, const Point* point,
                           Feature* feature) override {
    feature->set_name(NameAt(*point));
    *feature->mutable_location() = *point;
    return h2rpc::Status::Ok();
  }

  h2rpc::Status ListFeatures(h2rpc::ServerContext* context, const Rectangle* rectangle,
                             h2rpc::ServerWriter<Feature>* writer) override {
    for (const Feature& f : features_) {
      if (!route_guide::InRectangle(f.location(), *rectangle)) continue;
      if (!writer->Write(f)) {
        // The client went away (or the deadline passed): stop early.
        return h2rpc::Status(context->IsCancelled() ? h2rpc::StatusCode::kCancelled
                                                    : h2rpc::StatusCode::kUnavailable,
                             "client stopped reading");
      }
    }
    return h2rpc::Status::Ok();
  }

  h2rpc::Status RecordRoute(h2rpc::ServerContext* /*context*/, h2rpc::ServerReader<Point>* reader,
                            RouteSummary* summary) override {
    auto start = std::chrono::steady_clock::now();
    int point_count = 0;
    int feature_count = 0;
    double distance = 0;
    Point point;
    Point previous;
    while (reader->Read(&point)) {
      if (!NameAt(point).empty()) ++feature_count;
      if (point_count > 0) distance += route_guide::DistanceMetres(previous, point);
      ++point_count;
      previous = point;
    }
    auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    summary->set_point_count(point_count);
    summary->set_feature_count(feature_count);
    summary->set_distance(static_cast<int32_t>(distance));
    summary->set_elapsed_time(static_cast<int32_t>(secs.count()));
    return h2rpc::Status::Ok();
  }

  h2rpc::Status RouteChat(h2rpc::ServerContext* /*context*/,
                          h2rpc::ServerReaderWriter<RouteNote, RouteNote>* stream) override {
    RouteNote note;
    while (stream->Read(&note)) {
      std::vector<RouteNote> earlier;
      {
        std::lock_guard<std::mutex> lock(notes_mu_);
        for (const RouteNote& n : notes_) {
          if (SamePoint(n.location(), note.location())) earlier.push_back(n);
        }
        notes_.push_back(note);
      }
      for (const RouteNote& n : earlier) {
        if (!stream->Write(n)) return h2rpc::Status(h2rpc::StatusCode::kCancelled, "call ended");
      }
    }
    return h2rpc::Status::Ok();
  }

 private:
  std::string NameAt(const Point& point) const {
    for (const Feature& f : features_) {
      if (SamePoint(f.location(), point)) return f.name();
    }
    return "";
  }

  const std::vector<Feature> features_;
  std::mutex notes_mu_;
  std::vector<RouteNote> notes_;  // guarded by notes_mu_
};

constexpr std::chrono::seconds kShutdownGrace{2};

}  // namespace

int main(int argc, char** argv) {
  examples::BlockShutdownSignals();
  examples::Flags flags(argc, argv,
                        {{"listen", "127.0.0.1:50051", "address to listen on (port 0: any free)"},
                         {"db_path", route_guide::kDefaultDbPath, "features database (JSON)"}});
  const std::string& listen = flags.Get("listen");

  std::vector<Feature> features;
  std::string error;
  if (!route_guide::LoadFeatures(flags.Get("db_path"), &features, &error)) {
    std::fprintf(stderr, "route_guide_server: %s\n", error.c_str());
    return 1;
  }
  std::printf("DB parsed, loaded %zu features.\n", features.size());

  RouteGuideImpl service(std::move(features));
  h2rpc::ReflectionService reflection;
  int port = 0;
  h2rpc::ServerBuilder builder;
  builder.AddListeningPort(listen, &port);
  builder.RegisterService(&service);
  builder.RegisterService(reflection.service());
  std::unique_ptr<h2rpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "route_guide_server: cannot listen on %s: %s\n", listen.c_str(),
                 builder.error().ToString().c_str());
    return 1;
  }
  std::printf("Server listening on %s\n", examples::WithPort(listen, port).c_str());
  std::fflush(stdout);

  int sig = examples::WaitForShutdownSignal();
  std::printf("Received %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  std::printf("Server stopped\n");
  return 0;
}
