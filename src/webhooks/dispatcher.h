// Sends webhooks in the background, the way `serve` and `recur deliver` do: a fixed set of
// sender threads fed by one pumping thread, which alone talks to the database: it fans the
// outbox out, claims due deliveries (a lane of at most lane_depth per endpoint), and records
// the senders' outcomes in batches. A sender takes a claim only while fewer than
// per_endpoint attempts to its endpoint are in flight, so a slow or dead receiver holds at
// most that many senders; the others keep serving every other endpoint, and the API and
// billing never wait on any of them.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webhooks/service.h"

namespace recur::webhooks {

class Dispatcher {
 public:
  // Starts options().senders sender threads and the pump, which records outcomes, fans the
  // outbox out and claims what is due whenever there is room, at least every `idle_poll`.
  explicit Dispatcher(WebhookService& service,
                      std::chrono::milliseconds idle_poll = std::chrono::milliseconds(250));
  // Stops claiming, lets the attempts in flight finish and records their outcomes; claims
  // not yet sent are left to their lease (sent again later, by this node or another).
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // While one lives, nothing new is claimed and no attempt is in flight (the test clock
  // moves time only then, so every attempt sees the time it was claimed at).
  class Pause {
   public:
    explicit Pause(Dispatcher& d);
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    Dispatcher& d_;
  };

  // The outcomes since the last call (for the log).
  DeliveryReport take_report();

 private:
  void pump_loop();
  // Records the outcomes the senders left. False when there were none.
  bool record_done();
  // Fans out and claims for the room there is. False when nothing was claimed.
  bool claim_more();
  void sender_loop();
  // The first queued claim whose endpoint has a free slot (queue_.end() if none). Requires mu_.
  std::deque<Claim>::iterator next_claim();
  int room() const;  // claims the pump may still take. Requires mu_.

  WebhookService& service_;
  std::chrono::milliseconds idle_poll_;
  std::mutex mu_;
  std::condition_variable work_;    // senders: a claim or a slot came free, or stopping
  std::condition_variable wake_;    // pump and pausers: an outcome is waiting, or stopping
  std::deque<Claim> queue_;
  std::vector<std::pair<Claim, Attempt>> done_;  // sent, not yet recorded
  std::map<std::string, int> held_;     // per endpoint: claimed and not yet recorded
  std::map<std::string, int> sending_;  // per endpoint: attempts in flight
  int busy_ = 0;                        // claimed and not yet recorded, all endpoints
  int paused_ = 0;
  bool stopping_ = false;       // senders: take nothing new
  bool pump_stopping_ = false;  // the pump: record what is left, then end
  DeliveryReport report_;
  std::vector<std::thread> senders_;
  std::thread pump_;
};

}  // namespace recur::webhooks
