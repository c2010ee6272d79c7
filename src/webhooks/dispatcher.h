// Sends webhooks in the background, the way `serve` and `recur deliver` do: a fixed set of
// sender threads fed from the database by one pumping thread. A slow or dead receiver holds
// at most WebhookOptions::per_endpoint senders (its own queue, in effect); the others keep
// serving every other endpoint, and the API and billing never wait on any of them.
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
  // Starts options().senders sender threads and the pump, which fans the outbox out and
  // claims what is due whenever a sender is free, at least every `idle_poll`.
  explicit Dispatcher(WebhookService& service,
                      std::chrono::milliseconds idle_poll = std::chrono::milliseconds(250));
  // Stops claiming, lets the attempts in flight finish and record their outcome.
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
  // One round: fan out, claim for the free senders. False when nothing was claimed.
  bool pump();
  void sender_loop();

  WebhookService& service_;
  std::chrono::milliseconds idle_poll_;
  std::mutex mu_;
  std::condition_variable work_;    // senders: a claim is queued, or stopping
  std::condition_variable freed_;   // pump and pausers: a sender finished, or stopping
  std::deque<Claim> queue_;
  std::map<std::string, int> in_flight_;  // per endpoint: queued or being sent
  int busy_ = 0;                          // queued or being sent, all endpoints
  int paused_ = 0;
  bool stopping_ = false;
  DeliveryReport report_;
  std::vector<std::thread> senders_;
  std::thread pump_;
};

}  // namespace recur::webhooks
